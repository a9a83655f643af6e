"""Benchmark: the API client stack inside the Qt event loop (qasync) against plain asyncio.

    .venv/bin/python benchmarks/api_client.py [--captures 200] [--latency-ms 50] [--concurrency 1 4 16]
                                              [--repeat 3]

A stand-in screenshot service runs in its own process on 127.0.0.1 (aiohttp): ``GET /thumb``
waits a fixed latency, then answers a 320×240 PNG. Against it, for each concurrency level:

* **httpx raw / asyncio** — bare ``httpx.AsyncClient.get`` (what the network and server cost);
* **ShotDesk / asyncio** — ``ThumbProvider.capture``: the retrying request helper, rate limiter,
  typed errors and the Pillow check of every picture in a worker thread (the CLI's path);
* **ShotDesk / qasync** — the same inside one ``qasync.QEventLoop`` of an offscreen
  ``QApplication`` (the window's path; one ``run_until_complete``).

Measured: per-capture client overhead (time to the checked result minus the server's fixed
latency; mean/p50/p95/max), throughput (captures/s; ideal = concurrency ÷ latency), and the
longest event-loop stall while they run — an asyncio ticker sleeping 5 ms, and in the Qt run also
a 5 ms ``QTimer``, each recording how late it fired. Each row is repeated ``--repeat`` times and the
run with the median throughput is shown (the machine is shared). Prints Markdown tables and
qasync ÷ asyncio ratios (1.0 = no cost for running inside Qt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_S = 0.005


# ---------------------------------------------------------------------- stand-in server (own process)
def _serve(conn: Connection, latency_s: float) -> None:
    from aiohttp import web
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 160)).save(buf, "PNG")
    picture = buf.getvalue()

    async def thumb(request: web.Request) -> web.Response:
        await asyncio.sleep(latency_s)
        return web.Response(body=picture, content_type="image/png", headers={"X-Cache": "MISS"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/thumb", thumb)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=256)
        await site.start()
        conn.send(int(runner.addresses[0][1]))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # until the parent says stop
        await runner.cleanup()

    asyncio.run(main())


# ---------------------------------------------------------------------- measuring
@dataclass
class Run:
    mode: str
    concurrency: int
    wall_s: float
    overheads_ms: list[float]
    stall_ms: float
    qtimer_stall_ms: float | None = None

    @property
    def throughput(self) -> float:
        return len(self.overheads_ms) / self.wall_s


class Ticker:
    """An asyncio task sleeping TICK_S in a loop, recording how late each wake-up is."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            self.worst = max(self.worst, time.perf_counter() - due)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class QtTicker:
    """A 5 ms QTimer recording how late it fires (the GUI thread's own view of stalls)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(round(TICK_S * 1000))
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.worst = max(self.worst, now - self._last - TICK_S)
        self._last = now

    def start(self) -> None:
        self._last = 0.0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


async def run_level(mode: str, concurrency: int, captures: int, latency_s: float,
                    one: Callable[[], Awaitable[Any]], qt_ticker: QtTicker | None) -> Run:
    for _ in range(min(concurrency, 8)):  # warm up connections, threads and the limiter's probe
        await one()
    ticker = Ticker()
    ticker.start()
    if qt_ticker is not None:
        qt_ticker.worst = 0.0
        qt_ticker.start()
    overheads: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(captures):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            await one()
            overheads.append((time.perf_counter() - started - latency_s) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    await ticker.stop()
    qt_worst = None
    if qt_ticker is not None:
        qt_ticker.stop()
        qt_worst = qt_ticker.worst * 1000
    return Run(mode, concurrency, wall, overheads, ticker.worst * 1000, qt_worst)


async def suite(mode: str, base_url: str, args: argparse.Namespace, qt_ticker: QtTicker | None) -> list[Run]:
    import httpx

    from shotdesk.capture.http import RateLimiter, make_client
    from shotdesk.capture.providers.thumb import ThumbProvider
    from shotdesk.core.spec import CaptureSpec

    latency_s = args.latency_ms / 1000
    runs: list[Run] = []
    spec = CaptureSpec(url="https://example.org/", provider="thumb", width=320, height=240)
    for concurrency in args.concurrency:
        if mode == "httpx raw / asyncio":
            async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=64)) as raw:
                async def fetch(raw: httpx.AsyncClient = raw) -> None:
                    r = await raw.get("/thumb", params={"url": "https://example.org/", "w": "320",
                                                        "h": "240"})
                    r.raise_for_status()

                for _ in range(args.repeat):
                    runs.append(await run_level(mode, concurrency, args.captures, latency_s, fetch, None))
            continue
        client = make_client(base_url=base_url)
        provider = ThumbProvider(base_url=base_url, client=client,
                                 limiter=RateLimiter(max_concurrency=max(args.concurrency), provider="bench"))

        async def capture(provider: ThumbProvider = provider) -> None:
            result = await provider.capture(spec)
            assert result.width == 320 and result.metadata.get("cache") == "MISS"

        try:
            for _ in range(args.repeat):
                runs.append(await run_level(mode, concurrency, args.captures, latency_s, capture, qt_ticker))
        finally:
            await provider.aclose()
            await client.aclose()
    return runs


# ---------------------------------------------------------------------- report
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median_runs(runs: list[Run]) -> list[Run]:
    """Per (mode, concurrency): the run with the median throughput."""
    groups: dict[tuple[str, int], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.mode, r.concurrency), []).append(r)
    return [sorted(g, key=lambda r: r.throughput)[len(g) // 2] for g in groups.values()]


def report(all_runs: list[Run], args: argparse.Namespace) -> None:
    latency_s = args.latency_ms / 1000
    runs = median_runs(all_runs)
    print(f"\n{args.captures} captures per row (median-throughput run of {args.repeat}); server latency "
          f"{args.latency_ms:g} ms (own process); Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| mode | conc. | wall s | captures/s | ideal/s | overhead mean | p50 | p95 | max "
          "| longest stall (asyncio 5 ms ticker) | (QTimer 5 ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        o = r.overheads_ms
        qt = f"{r.qtimer_stall_ms:.1f} ms" if r.qtimer_stall_ms is not None else "–"
        print(f"| {r.mode} | {r.concurrency} | {r.wall_s:.2f} | {r.throughput:.1f} | "
              f"{r.concurrency / latency_s:.0f} | {statistics.fmean(o):.2f} ms | {_pct(o, 0.5):.2f} ms | "
              f"{_pct(o, 0.95):.2f} ms | {max(o):.2f} ms | {r.stall_ms:.1f} ms | {qt} |")
    by = {(r.mode, r.concurrency): r for r in runs}
    print("\nqasync ÷ asyncio (ShotDesk stack; 1.00 = no cost for running inside the Qt loop)\n")
    print("| conc. | overhead p50 | overhead mean | throughput | longest stall |")
    print("|---:|---:|---:|---:|---:|")
    for c in args.concurrency:
        q, a = by.get(("ShotDesk / qasync", c)), by.get(("ShotDesk / asyncio", c))
        if q is None or a is None:
            continue
        print(f"| {c} | {_ratio(_pct(q.overheads_ms, 0.5), _pct(a.overheads_ms, 0.5))} | "
              f"{_ratio(statistics.fmean(q.overheads_ms), statistics.fmean(a.overheads_ms))} | "
              f"{_ratio(q.throughput, a.throughput)} | {_ratio(q.stall_ms, a.stall_ms)} |")
    print("\nShotDesk ÷ raw httpx under asyncio (cost of retries, limiter, typed errors, picture check)\n")
    print("| conc. | overhead p50 (ms more) | throughput ratio |")
    print("|---:|---:|---:|")
    for c in args.concurrency:
        s, raw = by.get(("ShotDesk / asyncio", c)), by.get(("httpx raw / asyncio", c))
        if s is None or raw is None:
            continue
        print(f"| {c} | {_pct(s.overheads_ms, 0.5) - _pct(raw.overheads_ms, 0.5):+.2f} | "
              f"{_ratio(s.throughput, raw.throughput)} |")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "–"


# ---------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--captures", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is shown")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child, args.latency_ms / 1000), daemon=True)
    server.start()
    try:
        if not parent.poll(30):
            print("the stand-in server did not start", file=sys.stderr)
            return 1
        base_url = f"http://127.0.0.1:{parent.recv()}"

        runs: list[Run] = []
        runs += asyncio.run(suite("httpx raw / asyncio", base_url, args, None))
        runs += asyncio.run(suite("ShotDesk / asyncio", base_url, args, None))

        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            qt_ticker = QtTicker()
            runs += loop.run_until_complete(suite("ShotDesk / qasync", base_url, args, qt_ticker))
        finally:
            loop.close()
            asyncio.set_event_loop(None)
        report(runs, args)
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
