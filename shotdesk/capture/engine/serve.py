"""The engine process: ``python -m shotdesk.capture.engine.serve [--host H] [--port N] ...``.

One offscreen ``QApplication``, one ``qasync.QEventLoop`` and exactly one ``run_until_complete``
(``qasync.run`` segfaults at exit once QtWebEngine was used — ENGINE-NOTES.md). When the server
listens, one line goes to stdout::

    SHOTDESK-ENGINE {"port": 12345, "pid": 678, "dark": false}

The process stops cleanly on SIGTERM / SIGINT and, with ``--parent-stdin``, when its stdin
closes (the app that started it went away). Chromium switches go after ``--webEngineArgs``;
``QTWEBENGINE_CHROMIUM_FLAGS`` is merged into them (Qt ignores the arguments while that variable
is set, and switches containing spaces only work as arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence

#: Prefix of the one machine-readable line printed when the server is ready.
READY_PREFIX = "SHOTDESK-ENGINE "
#: Environment variable that carries the token (safer than argv, which `ps` shows).
TOKEN_ENV = "SHOTDESK_ENGINE_TOKEN"
#: The process-wide switch under which ``prefers-color-scheme: dark`` matches (ENGINE-NOTES.md).
DARK_SWITCH = "--blink-settings=preferredColorScheme=0"
#: Chromium holds the first paint after a navigation until the first text or image paints, up to
#: 500 ms; a page of plain boxes would always wait that long (measured). Screenshots do not need it.
DEFAULT_SWITCHES = ("--disable-features=PaintHolding",)
WEBENGINE_ARGS = "--webEngineArgs"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m shotdesk.capture.engine.serve",
                                description="ShotDesk's local capture engine (job API on HTTP).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--token", default=None,
                   help=f"bearer token clients must send (default: ${TOKEN_ENV}, else none)")
    p.add_argument("--pool", type=int, default=2, help="pages rendering at once (default 2)")
    p.add_argument("--dark", action="store_true", help="render with prefers-color-scheme: dark")
    p.add_argument("--block-host", action="append", default=[], metavar="HOST",
                   help="block this host too when block_ads is on (repeatable)")
    p.add_argument("--parent-stdin", action="store_true", help="exit when stdin closes")
    return p


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(our arguments, Chromium switches after ``--webEngineArgs``)."""
    args = list(argv)
    if WEBENGINE_ARGS in args:
        index = args.index(WEBENGINE_ARGS)
        return args[:index], args[index + 1:]
    return args, []


def chromium_switches(extra: Sequence[str], *, dark: bool) -> list[str]:
    """Every Chromium switch for this process: the environment's, the caller's, sandbox and dark."""
    switches = shlex.split(os.environ.pop("QTWEBENGINE_CHROMIUM_FLAGS", ""))
    switches += [s for s in (*DEFAULT_SWITCHES, *extra) if s not in switches]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--no-sandbox" not in switches:
        switches.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    if dark and DARK_SWITCH not in switches:
        switches.append(DARK_SWITCH)
    return switches


def run_server(*, host: str = "127.0.0.1", port: int = 0, token: str | None = None, pool: int = 2,
               dark: bool = False, chromium_args: Sequence[str] = (), block_hosts: Sequence[str] = (),
               watch_stdin: bool = False, on_ready: Callable[[int], None] | None = None) -> int:
    """Run the engine server in this process until SIGTERM/SIGINT (or stdin EOF). Returns 0."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the engine never shows a window
    switches = chromium_switches(chromium_args, dark=dark)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0] or "shotdesk-engine", WEBENGINE_ARGS, *switches])
    app.setQuitOnLastWindowClosed(False)

    import qasync  # after PySide6 (ENGINE-NOTES.md)

    from shotdesk.capture.engine.common import load_blocklist
    from shotdesk.capture.engine.renderer import Renderer
    from shotdesk.capture.engine.server import EngineServer

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    app.aboutToQuit.connect(stop.set)

    def request_stop(*_: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    # Python runs signal handlers only between bytecodes: wake the interpreter regularly.
    ticker = QTimer()
    ticker.setInterval(200)
    ticker.timeout.connect(lambda: None)
    ticker.start()

    if watch_stdin:
        def watch() -> None:
            try:
                while sys.stdin.buffer.read(1024):
                    pass
            except (OSError, ValueError):
                pass
            request_stop()

        threading.Thread(target=watch, name="stdin-watch", daemon=True).start()

    async def serve() -> None:
        renderer = Renderer(pool, dark=dark, hosts=load_blocklist(block_hosts))
        server = EngineServer(renderer, token)
        try:
            bound = await server.start(host, port)
            if on_ready is not None:
                on_ready(bound)
            await stop.wait()
        finally:
            await server.close()
            await renderer.aclose()

    try:
        loop.run_until_complete(serve())
    finally:
        ticker.stop()
        loop.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ours, chromium = split_argv(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ours)
    token = args.token or os.environ.pop(TOKEN_ENV, None) or None
    if args.pool < 1 or args.pool > 16:
        print("shotdesk engine: --pool must be 1–16", file=sys.stderr)
        return 2
    dark = bool(args.dark)

    def ready(port: int) -> None:
        line = json.dumps({"port": port, "pid": os.getpid(), "dark": dark, "host": args.host})
        print(READY_PREFIX + line, flush=True)

    return run_server(host=args.host, port=args.port, token=token, pool=args.pool, dark=dark,
                      chromium_args=chromium, block_hosts=args.block_host,
                      watch_stdin=args.parent_stdin, on_ready=ready)


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Leaving through the interpreter's teardown after QtWebEngine ran can crash in Qt's
    # destructors; everything that matters is already closed and flushed.
    os._exit(code)
