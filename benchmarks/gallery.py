"""Gallery window benchmark: 10,000 captures — launch to first painted grid, scrolling end to end,
peak memory, and the longest event-loop stall while 20 captures run.

    .venv/bin/python benchmarks/gallery.py [--rows 10000] [--captures 20] [--provider local]

Each measurement runs in a fresh process (offscreen Qt) and is printed next to a baseline measured
in the same run:

* launch: a bare PySide6 window with a ``QListView`` (icon mode) over 10,000 strings vs. the
  ShotDesk window over a 10,000-row gallery, from process start to the first paint of the grid
  with tiles, and to the visible thumbnails decoded;
* scrolling: the grid scrolled from top to bottom one page at a time, each page painted
  synchronously (lazy loading fetches rows as it goes), vs. the same over the bare list;
* peak memory: the process's maximum resident set size;
* stall: a 10 ms ``QTimer`` in the window process records its gaps; the longest gap beyond 10 ms
  while idle (baseline) vs. while 20 captures of loopback pages run through the real pipeline
  (the local engine runs in its own process; ``--provider`` picks another registered provider).

The gallery comes from ``benchmarks/library.py: make_library`` (realistic rows and dates), with
its tiny thumbnails replaced by real 320 px WebP thumbnails so decoding costs what it costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGE = """<!doctype html><html><head><title>Bench {i}</title><style>body{{margin:0;background:{c};
font:40px sans-serif;color:#fff}}</style></head><body><h1>Page {i}</h1><p>{text}</p></body></html>"""


# ------------------------------------------------------------------------------------ the gallery
def build_gallery(root: Path, rows: int) -> float:
    from PIL import Image, ImageDraw

    from benchmarks.library import make_library

    started = time.perf_counter()
    lib = make_library(root, rows)
    thumbs = []
    for k in range(40):  # real-sized thumbnails (320 px wide WebP), cycled over the rows
        img = Image.new("RGB", (320, 180), ((k * 53) % 256, (k * 97) % 256, (k * 31) % 256))
        draw = ImageDraw.Draw(img)
        for y in range(0, 180, 24):
            draw.rectangle([16, y + 6, 300 - (y * 3) % 120, y + 16], fill=(255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, format="WEBP", quality=80)
        thumbs.append(buf.getvalue())
    paths = [r[0] for r in lib._query("SELECT thumb FROM captures WHERE thumb IS NOT NULL")]
    for i, name in enumerate(paths):
        lib.thumbs.resolve(name).write_bytes(thumbs[i % len(thumbs)])
    lib.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------ probes
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _since_spawn() -> float:
    return time.time() - float(os.environ["BENCH_SPAWN"])


def probe(kind: str, lib_root: Path, rows: int, base_url: str, captures: int,
          provider: str) -> dict[str, Any]:
    import asyncio
    import gc

    from PySide6.QtCore import QEvent, QObject, QSize, QStringListModel, QTimer
    from PySide6.QtWidgets import QApplication, QListView, QMainWindow, QSplitter, QVBoxLayout, QWidget

    gc_pauses: list[float] = []
    gc_start = [0.0]

    def gc_watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_pauses.append(time.perf_counter() - gc_start[0])

    gc.callbacks.append(gc_watch)
    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    import qasync  # after PySide6 (ENGINE-NOTES.md)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    result: dict[str, Any] = {}
    first_paint = asyncio.Event()

    class PaintWatch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not first_paint.is_set() and has_rows():
                result["first_paint_s"] = _since_spawn()
                loop.call_soon(first_paint.set)
            return False

    window: Any
    if kind == "bare":
        window = QMainWindow()
        view = QListView()
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setUniformItemSizes(True)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setGridSize(QSize(228, 212))  # the ShotDesk tile size: the same number of pages
        view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        model = QStringListModel([f"https://site{i}.example/page" for i in range(rows)])
        view.setModel(model)
        # Lay the list out like the ShotDesk grid: options | grid | preview, bars above.
        splitter = QSplitter()
        splitter.addWidget(QWidget())
        splitter.addWidget(view)
        splitter.addWidget(QWidget())
        splitter.setSizes([340, 680, 420])
        central = QWidget()
        box = QVBoxLayout(central)
        box.addSpacing(110)
        box.addWidget(splitter)
        window.setCentralWidget(central)

        def has_rows() -> bool:
            return model.rowCount() > 0
    else:
        from shotdesk.capture.registry import ProviderRegistry, provider_infos
        from shotdesk.core.library import Library
        from shotdesk.core.settings import Settings
        from shotdesk.services import secrets
        from shotdesk.services.pipeline import CapturePipeline
        from shotdesk.services.tasks import TaskRegistry
        from shotdesk.ui.app import window_prefs
        from shotdesk.ui.main_window import MainWindow, WindowContext

        settings = Settings(cache_ttl_s=0)
        library = Library(lib_root / "gallery.sqlite3", lib_root / "cache")
        pipeline = CapturePipeline(library, ProviderRegistry(settings, key_lookup=secrets.get_key), ttl_s=0)
        window = MainWindow(WindowContext(pipeline=pipeline, settings=settings,
                                          providers=provider_infos(settings), tasks=TaskRegistry(loop),
                                          prefs=window_prefs()))
        view = window.view

        def has_rows() -> bool:
            return bool(window.proxy.rowCount())

    watch = PaintWatch()
    view.viewport().installEventFilter(watch)
    window.resize(1400, 900)

    async def main() -> None:
        window.show()
        await asyncio.wait_for(first_paint.wait(), 60)
        if kind == "app":
            deadline = time.monotonic() + 30
            await asyncio.sleep(0.05)
            while window.thumbnails.pending and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            view.viewport().repaint()
            result["thumbs_visible_s"] = _since_spawn()
        result["rss_after_launch_mb"] = _rss_mb()
        # ---- scroll end to end, one page per step, each painted synchronously
        bar = view.verticalScrollBar()
        steps: list[float] = []
        started = time.perf_counter()
        settle_deadline = 0.0
        while True:
            before = bar.value()
            t0 = time.perf_counter()
            bar.setValue(before + view.viewport().height())
            view.viewport().repaint()
            await asyncio.sleep(0)
            if bar.value() != before:
                steps.append(time.perf_counter() - t0)
                settle_deadline = 0.0
                continue
            # At the bottom: rows fetched there are laid out in batches; give them a moment.
            if not view.model().canFetchMore(view.rootIndex()) and settle_deadline and \
                    time.monotonic() > settle_deadline:
                break
            if not settle_deadline:
                settle_deadline = time.monotonic() + 0.3
            if time.monotonic() - started > 300:
                break
            await asyncio.sleep(0.01)
        result["scroll_total_s"] = time.perf_counter() - started
        result["scroll_pages"] = len(steps)
        result["scroll_max_page_ms"] = max(steps) * 1000
        result["scroll_median_page_ms"] = statistics.median(steps) * 1000
        result["rows_loaded"] = view.model().rowCount()
        # ---- event-loop stall: gaps of a 10 ms timer, idle, then while captures run
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        last[0] = time.perf_counter()
        timer.start()
        await asyncio.sleep(3.0)
        result["idle_max_stall_ms"] = max(0.0, max(gaps) * 1000 - 10)
        if kind == "app" and captures:
            from shotdesk.core.spec import CaptureSpec

            window.capture_bar.set_provider(provider)
            gaps.clear()
            started = time.perf_counter()
            for i in range(captures):
                window.submit(CaptureSpec(url=f"{base_url}/p{i}", provider=provider))
            deadline = time.monotonic() + 600
            while not window.capture_service.is_idle() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            result["captures_s"] = time.perf_counter() - started
            from shotdesk.ui.gallery_model import Role

            statuses = [window.proxy.index(r, 0).data(Role.STATUS) for r in range(captures)]
            result["captures_ready"] = statuses.count("ready")
            errors = {str(window.proxy.index(r, 0).data(Role.ERROR)) for r in range(captures)
                      if statuses[r] != "ready"}
            if errors:
                result["capture_errors"] = sorted(errors)[:3]
            result["capture_max_stall_ms"] = max(0.0, max(gaps) * 1000 - 10)
            ordered = sorted(gaps)
            result["capture_p99_gap_ms"] = ordered[int(len(ordered) * 0.99)] * 1000
        timer.stop()
        result["peak_rss_mb"] = _rss_mb()
        result["gc_max_pause_ms"] = max(gc_pauses, default=0.0) * 1000
        if kind == "app":
            window.close()
            while not window._closed:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    loop.run_until_complete(main())
    loop.close()
    return result


def run_probe(kind: str, lib_root: Path, args: argparse.Namespace, base_url: str,
              env: dict[str, str]) -> dict[str, Any]:
    env = {**env, "BENCH_SPAWN": repr(time.time())}
    command = [sys.executable, __file__, "--probe", kind, "--lib", str(lib_root), "--rows", str(args.rows),
               "--captures", str(args.captures), "--provider", args.provider, "--base-url", base_url]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"probe {kind} failed ({out.returncode}):\n{out.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--captures", type=int, default=20)
    parser.add_argument("--provider", default="local")
    parser.add_argument("--probe", choices=("bare", "app"))
    parser.add_argument("--lib", type=Path)
    parser.add_argument("--base-url", default="")
    parser.add_argument("--skip-library", action="store_true",
                        help="skip the library part (compare 1280×8000, FTS and integrity over --rows)")
    args = parser.parse_args(argv)
    if args.probe:
        print("RESULT " + json.dumps(probe(args.probe, args.lib, args.rows, args.base_url, args.captures,
                                           args.provider)))
        return 0

    from tests.helpers.webserver import PageServer

    with tempfile.TemporaryDirectory(prefix="shotdesk-gallery-bench-") as tmp, PageServer() as server:
        root = Path(tmp)
        for i in range(args.captures):
            server.add_page(f"/p{i}", PAGE.format(i=i, c=f"hsl({i * 18},60%,40%)", text="lorem ipsum " * 40))
        build_s = build_gallery(root / "lib", args.rows)
        env = dict(os.environ)
        env.update({"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(root / "config"),
                    "XDG_CACHE_HOME": str(root / "cache"), "XDG_DATA_HOME": str(root / "data")})
        bare = run_probe("bare", root / "lib", args, server.base_url, env)
        app = run_probe("app", root / "lib", args, server.base_url, env)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}×" if b > 0 else "—"

    rows = [
        ("launch → first painted grid (s)", bare["first_paint_s"], app["first_paint_s"]),
        ("launch → visible thumbnails (s)", None, app.get("thumbs_visible_s")),
        ("scroll end to end (s)", bare["scroll_total_s"], app["scroll_total_s"]),
        ("  pages painted", bare["scroll_pages"], app["scroll_pages"]),
        ("  median page (ms)", bare["scroll_median_page_ms"], app["scroll_median_page_ms"]),
        ("  slowest page (ms)", bare["scroll_max_page_ms"], app["scroll_max_page_ms"]),
        ("  rows loaded at the end", bare["rows_loaded"], app["rows_loaded"]),
        ("RSS after launch (MB)", bare["rss_after_launch_mb"], app["rss_after_launch_mb"]),
        ("peak RSS (MB)", bare["peak_rss_mb"], app["peak_rss_mb"]),
        ("longest garbage-collector pause (ms)", bare["gc_max_pause_ms"], app["gc_max_pause_ms"]),
        ("longest loop stall, idle (ms)", bare["idle_max_stall_ms"], app["idle_max_stall_ms"]),
        (f"longest loop stall, {args.captures} captures (ms)", None, app.get("capture_max_stall_ms")),
        ("  p99 timer gap during captures (ms)", None, app.get("capture_p99_gap_ms")),
        (f"  {args.captures} captures took (s)", None, app.get("captures_s")),
        ("  captures ready", None, app.get("captures_ready")),
    ]
    print(f"gallery: {args.rows:,} captures (built in {build_s:.1f} s); "
          f"provider for the captures: {args.provider}")
    print(f"{'measure':44} {'baseline (bare Qt)':>20} {'ShotDesk':>12} {'ratio':>8}")
    for name, base, value in rows:
        b = "—" if base is None else (f"{base:,.2f}" if isinstance(base, float) else f"{base:,}")
        v = "—" if value is None else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
        comparable = isinstance(base, int | float) and isinstance(value, int | float) \
            and "rows" not in name and "pages" not in name
        r = ratio(float(value or 0), float(base or 0)) if comparable else ""
        print(f"{name:44} {b:>20} {v:>12} {r:>8}")
    if app.get("capture_errors"):
        print("capture errors:", "; ".join(app["capture_errors"]))
    if not args.skip_library:
        # Issue 5's gallery operations: compare two 1280×8000 captures, FTS search and the
        # integrity check over the same number of rows, each against its baseline.
        from benchmarks import library as library_bench

        print()
        library_bench.main(["--rows", str(args.rows), "--repeat", "3"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
