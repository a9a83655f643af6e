"""Run the real ShotDesk window under Xvfb, capture loopback pages through it, save a picture.

    .venv/bin/python benchmarks/window_screenshot.py [--out /tmp/shotdesk-window.png]

What happens:

1. An Xvfb server starts on a free display (1600×1000, 24 bit) and a loopback HTTP server serves
   two demo pages (and a 404 for a third address).
2. This script runs itself again as ``--inside`` with ``DISPLAY`` set and ``QT_QPA_PLATFORM=xcb``,
   in fresh XDG folders (an empty gallery). That process calls the real
   :func:`shotdesk.ui.app.run_window` — QApplication, qasync loop, CapturePipeline with the local
   engine process — and drives the window as a person would: Ctrl+L, type the address, Enter, for
   each page; waits for the queue to finish; selects the first capture so the preview shows it.
3. ``import -window root`` (ImageMagick) saves the X screen — the whole window, as drawn by the X
   server — to ``--out``; ``window.grab()`` is saved next to it as ``…-grab.png``. The window is
   closed through its normal shutdown (the engine process stops).

Exit status 0 when the picture was written and every capture reached the state expected of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCREEN = (1600, 1000)

DEMO = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>
 body{{margin:0;font-family:sans-serif;background:{bg};color:#fff}}
 header{{display:flex;justify-content:space-between;padding:24px 48px;background:rgba(0,0,0,.25)}}
 header b{{font-size:28px}} nav a{{color:#fff;margin-left:24px;text-decoration:none;font-size:18px}}
 .hero{{padding:90px 48px}} .hero h1{{font-size:64px;margin:0 0 16px}}
 .hero p{{font-size:24px;max-width:700px}}
 .cards{{display:flex;gap:24px;padding:0 48px}}
 .card{{flex:1;height:180px;border-radius:16px;background:rgba(255,255,255,.85);color:#223;padding:24px;
        font-size:22px}}
</style></head><body>
<header><b>{brand}</b><nav><a href="#">Product</a><a href="#">Pricing</a><a href="#">Blog</a></nav></header>
<div class="hero"><h1>{headline}</h1>
<p>Captured by ShotDesk from a loopback server, through the window.</p></div>
<div class="cards"><div class="card">Fast</div><div class="card">Private</div>
<div class="card">Offline</div></div>
</body></html>"""


def free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number between :90 and :139")


def start_xvfb() -> tuple[subprocess.Popen[bytes], int]:
    n = free_display()
    command = ["Xvfb", f":{n}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.1)
    return proc, n


def outside(args: argparse.Namespace) -> int:
    from tests.helpers.webserver import PageServer

    out = Path(args.out).resolve()
    xvfb, display = start_xvfb()
    with PageServer() as server, tempfile.TemporaryDirectory(prefix="shotdesk-xvfb-") as tmp:
        urls = [
            server.add_page("/aurora", DEMO.format(
                title="Aurora — launch", bg="linear-gradient(135deg,#3a1c71,#d76d77,#ffaf7b)",
                brand="Aurora", headline="Launch faster")),
            server.add_page("/tidal", DEMO.format(
                title="Tidal docs", bg="linear-gradient(135deg,#0f2027,#2c5364)",
                brand="Tidal", headline="Docs that flow")),
            server.url("/gone"),  # 404: the tile shows the error and a Retry button
        ]
        env = dict(os.environ)
        env.update({"DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb",
                    "XDG_CACHE_HOME": f"{tmp}/cache", "XDG_DATA_HOME": f"{tmp}/data",
                    "XDG_CONFIG_HOME": f"{tmp}/config"})
        env.pop("WAYLAND_DISPLAY", None)
        try:
            started = time.monotonic()
            result = subprocess.run([sys.executable, __file__, "--inside", "--out", str(out), *urls],
                                    env=env, timeout=args.timeout, check=False)
            print(f"window run took {time.monotonic() - started:.1f} s, exit status {result.returncode}")
        finally:
            xvfb.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                xvfb.wait(5)
            if xvfb.poll() is None:
                xvfb.kill()
    if result.returncode != 0 or not out.is_file():
        print("no picture was made", file=sys.stderr)
        return 1
    print(f"screen picture: {out}")
    print(f"window grab:    {out.with_name(out.stem + '-grab.png')}")
    return 0


def inside(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QItemSelectionModel, Qt
    from PySide6.QtTest import QTest

    from shotdesk.ui.app import run_window
    from shotdesk.ui.gallery_model import Role
    from shotdesk.ui.main_window import MainWindow

    out = Path(args.out)
    state: dict[str, object] = {"ok": False}

    async def wait_for(condition: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def drive(window: MainWindow) -> None:
        try:
            window.resize(SCREEN[0] - 40, SCREEN[1] - 40)
            window.move(20, 20)
            window.splitter.setSizes([300, 760, 480])
            window.raise_()
            window.activateWindow()
            await asyncio.sleep(1.0)
            for url in args.urls:
                QTest.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
                await asyncio.sleep(0.1)
                if not window.capture_bar.url_edit.hasFocus():
                    print("Ctrl+L did not reach the window (no active window?); focusing directly")
                    window.capture_bar.url_edit.setFocus()
                    window.capture_bar.url_edit.selectAll()
                QTest.keyClicks(window.capture_bar.url_edit, url)
                QTest.keyClick(window.capture_bar.url_edit, Qt.Key.Key_Return)
                await asyncio.sleep(0.2)
            await wait_for(window.capture_service.is_idle, 240, "the captures")
            statuses = [window.proxy.index(r, 0).data(Role.STATUS) for r in range(window.proxy.rowCount())]
            for r in range(window.proxy.rowCount()):
                index = window.proxy.index(r, 0)
                error = index.data(Role.ERROR) or ""
                print(f"tile {r}: {index.data(Role.STATUS)} {index.data(Role.URL)} {error}")
            ready = [r for r in range(window.proxy.rowCount())
                     if window.proxy.index(r, 0).data(Role.STATUS) == "ready"]
            if ready:
                window.view.selectionModel().setCurrentIndex(
                    window.proxy.index(ready[-1], 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
                await wait_for(lambda: not window.preview.canvas.image().isNull(), 30, "the preview")
            window.capture_bar.url_edit.setText("example.com/pricing")
            await wait_for(lambda: window.thumbnails.pending == 0, 30, "the thumbnails")
            await asyncio.sleep(1.5)  # let the X server draw everything
            proc = await asyncio.create_subprocess_exec("import", "-window", "root", str(out))
            await asyncio.wait_for(proc.wait(), 30)
            window.grab().save(str(out.with_name(out.stem + "-grab.png")))
            state["ok"] = statuses.count("ready") == len(args.urls) - 1 and statuses.count("failed") == 1
        except Exception as exc:
            print(f"driving the window failed: {exc!r}", file=sys.stderr)
        finally:
            window.close()

    def on_window(window: MainWindow) -> None:
        state["task"] = asyncio.get_event_loop().create_task(drive(window))

    status = run_window([sys.argv[0]], on_window=on_window)
    return 0 if status == 0 and state["ok"] and out.is_file() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/shotdesk-window.png")
    parser.add_argument("--timeout", type=float, default=400.0)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return inside(args) if args.inside else outside(args)


if __name__ == "__main__":
    raise SystemExit(main())
