"""Benchmark: ShotDesk's local engine against Debian's headless Chromium on the same loopback pages.

    .venv/bin/python benchmarks/capture.py [--repeat 2] [--throughput 12]

Serves six pages on 127.0.0.1 from this script, then measures

* viewport (1280×720) and full-page captures, per page:
  - ShotDesk **cold**: start an engine process, capture once, stop it (process start included;
    time until the image bytes are in hand);
  - ShotDesk **warm**: the same engine reused (median of ``--repeat`` captures);
  - Chromium: ``chromium --headless --screenshot`` — a new process per capture, so always cold.
    Its full page is a window as tall as the page (the height ShotDesk measured).
* captures per minute at concurrency 1 and 2 (warm engine with a pool of 2; Chromium as 1 or 2
  parallel processes).

Prints Markdown tables: per-page times, ratios ShotDesk ÷ Chromium (below 1 = ShotDesk faster),
and their medians. Chromium is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shotdesk.capture.engine.manager import EngineManager  # noqa: E402

WIDTH, HEIGHT = 1280, 720


# ---------------------------------------------------------------------- pages
def _png(w: int, h: int, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def build_site() -> dict[str, tuple[str, bytes]]:
    """path → (content type, body)."""
    lorem = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
             "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation. ")
    style = ("body{font-family:sans-serif;margin:0;color:#222} header{background:#234;color:#fff;"
             "padding:16px 32px} main{max-width:960px;margin:0 auto;padding:24px}")
    pages: dict[str, str] = {
        "/article": "<h1>An article</h1>" + "".join(
            f"<h2>Section {i}</h2><p>{lorem * 4}</p>" for i in range(12)),
        "/cards": "<h1>Cards</h1><div style='display:flex;flex-wrap:wrap;gap:16px'>" + "".join(
            f"<div style='width:280px;height:180px;border-radius:12px;box-shadow:0 4px 12px #0003;"
            f"background:linear-gradient(135deg,hsl({i * 17 % 360},70%,60%),hsl({i * 31 % 360},70%,40%))'>"
            f"<p style='color:#fff;padding:12px'>Card {i}</p></div>" for i in range(36)) + "</div>",
        "/gallery": "<h1>Gallery</h1>" + "".join(
            f"<img src='/img/{i}.png' width='300' height='200' style='margin:4px'>" for i in range(24)),
        "/table": "<h1>Table</h1><table border='1' cellspacing='0' cellpadding='4'>" + "".join(
            f"<tr><td>{i}</td><td>Item {i}</td><td>{i * 3.14:.2f}</td><td>{lorem[:60]}</td></tr>"
            for i in range(400)) + "</table>",
        "/long": "<h1>Long page</h1>" + "".join(
            f"<section style='height:700px;background:hsl({i * 29 % 360},50%,85%)'><h2>Part {i}</h2>"
            f"<p>{lorem}</p></section>" for i in range(14)),
        "/canvas": "<h1>Canvas and SVG</h1><canvas id='c' width='900' height='500'></canvas>"
                   "<svg width='900' height='300'>" + "".join(
                       f"<circle cx='{30 + i * 40}' cy='150' r='{10 + i % 7 * 4}' "
                       f"fill='hsl({i * 23},60%,50%)'/>" for i in range(22))
                   + "</svg><script>var x=document.getElementById('c').getContext('2d');"
                   "for(var i=0;i<400;i++){x.fillStyle='hsl('+i*7%360+',60%,50%)';"
                   "x.fillRect((i*37)%880,(i*53)%480,20,20);}</script>",
    }
    site = {path: ("text/html; charset=utf-8",
                   f"<!doctype html><html><head><title>{path[1:]}</title><style>{style}</style></head>"
                   f"<body><header>ShotDesk benchmark</header><main>{body}</main></body></html>".encode())
            for path, body in pages.items()}
    for i in range(24):
        site[f"/img/{i}.png"] = ("image/png", _png(300, 200, (i * 10 % 256, 120, 255 - i * 10 % 256)))
    return site


class Site:
    def __init__(self) -> None:
        content = build_site()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                ctype, body = content.get(self.path.split("?")[0], ("text/plain", b"not found"))
                self.send_response(200 if self.path.split("?")[0] in content else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.pages = [p for p in content if not p.startswith("/img/")]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


# ---------------------------------------------------------------------- ShotDesk
async def shotdesk_capture(client: httpx.AsyncClient, url: str, *, full_page: bool) -> tuple[bytes, int]:
    resp = await client.post("/screenshots", json={"url": url, "width": WIDTH, "height": HEIGHT,
                                                   "full_page": full_page})
    resp.raise_for_status()
    job_id = resp.json()["job_id"]
    for _ in range(10):
        job = (await client.get(f"/jobs/{job_id}", params={"wait": 30})).json()
        if job["status"] in ("completed", "failed"):
            break
    if job["status"] != "completed":
        raise RuntimeError(f"ShotDesk failed on {url}: {job['error']}")
    data = (await client.get(f"/jobs/{job_id}/image")).content
    return data, int(job["height"])


async def shotdesk_cold(url: str, *, full_page: bool) -> tuple[float, int]:
    start = time.perf_counter()
    manager = EngineManager(pool_size=1)
    try:
        base, token = await manager.endpoint(False)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as client:
            _, height = await shotdesk_capture(client, url, full_page=full_page)
        elapsed = time.perf_counter() - start
    finally:
        await manager.aclose()
    return elapsed, height


# ---------------------------------------------------------------------- Chromium
def ensure_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    print("Chromium is missing; installing Debian's package (apt-get install chromium) ...", file=sys.stderr)
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "chromium"], check=True)
    found = shutil.which("chromium")
    if not found:
        raise SystemExit("chromium could not be installed")
    return found


def chromium_capture(binary: str, url: str, height: int, out_dir: Path) -> float:
    out = out_dir / f"c-{time.monotonic_ns()}.png"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--screenshot={out}", f"--window-size={WIDTH},{height}", url]
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    elapsed = time.perf_counter() - start
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot for {url}")
    with Image.open(out) as img:
        if img.size != (WIDTH, height):
            print(f"note: chromium gave {img.size} for {url}", file=sys.stderr)
    out.unlink()
    return elapsed


# ---------------------------------------------------------------------- the run
@dataclass
class Row:
    page: str
    height: int = 0
    times: dict[str, float] = field(default_factory=dict)


async def measure(args: argparse.Namespace) -> None:
    site = Site()
    chromium = ensure_chromium()
    tmp = Path(tempfile.mkdtemp(prefix="shotdesk-bench-"))
    rows = [Row(p) for p in site.pages]

    # cold: one engine process per capture
    for row in rows:
        url = site.url(row.page)
        row.times["vp_cold"], _ = await shotdesk_cold(url, full_page=False)
        row.times["fp_cold"], row.height = await shotdesk_cold(url, full_page=True)

    # warm: one engine, reused
    manager = EngineManager(pool_size=2)
    try:
        base, token = await manager.endpoint(False)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as client:
            await shotdesk_capture(client, site.url(site.pages[0]), full_page=False)  # first page load
            for row in rows:
                url = site.url(row.page)
                for key, full in (("vp_warm", False), ("fp_warm", True)):
                    samples = []
                    for _ in range(args.repeat):
                        start = time.perf_counter()
                        await shotdesk_capture(client, url, full_page=full)
                        samples.append(time.perf_counter() - start)
                    row.times[key] = statistics.median(samples)

            # throughput, ShotDesk
            jobs = [(site.url(site.pages[i % len(site.pages)])) for i in range(args.throughput)]
            throughput: dict[str, dict[int, float]] = {"ShotDesk (warm engine, pool 2)": {},
                                                       "Chromium (process per capture)": {}}
            for concurrency in (1, 2):
                queue = list(jobs)
                start = time.perf_counter()

                async def worker(q: list[str] = queue) -> None:
                    while q:
                        await shotdesk_capture(client, q.pop(), full_page=False)

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                throughput["ShotDesk (warm engine, pool 2)"][concurrency] = \
                    60 * len(jobs) / (time.perf_counter() - start)
    finally:
        await manager.aclose()

    # Chromium: per page, then throughput
    for row in rows:
        url = site.url(row.page)
        row.times["vp_chromium"] = statistics.median(
            chromium_capture(chromium, url, HEIGHT, tmp) for _ in range(args.repeat))
        row.times["fp_chromium"] = statistics.median(
            chromium_capture(chromium, url, row.height, tmp) for _ in range(args.repeat))
    for concurrency in (1, 2):
        queue = list(jobs)
        start = time.perf_counter()

        def cworker(q: list[str] = queue) -> None:
            while True:
                try:
                    url = q.pop()
                except IndexError:
                    return
                chromium_capture(chromium, url, HEIGHT, tmp)

        threads = [threading.Thread(target=cworker) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        throughput["Chromium (process per capture)"][concurrency] = 60 * len(jobs) / elapsed
    shutil.rmtree(tmp, ignore_errors=True)
    report(rows, throughput, chromium, args)


def report(rows: list[Row], throughput: dict[str, dict[int, float]], chromium: str,
           args: argparse.Namespace) -> None:
    version = subprocess.run([chromium, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    print(f"### Capture benchmark ({platform.machine()}, {os.cpu_count()} CPUs, {version}, "
          f"Python {platform.python_version()})\n")
    print(f"Times in seconds, {WIDTH}×{HEIGHT} viewport; ratio = ShotDesk ÷ Chromium "
          "(< 1: ShotDesk faster). "
          f"Warm = median of {args.repeat}.\n")
    header = ("| page | full height | viewport: ShotDesk cold | Chromium | ratio cold | ShotDesk warm "
              "| ratio warm | full page: ShotDesk cold | Chromium | ratio cold | ShotDesk warm "
              "| ratio warm |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    ratios: dict[str, list[float]] = {k: [] for k in ("vp_cold", "vp_warm", "fp_cold", "fp_warm")}
    for row in rows:
        t = row.times
        cells = [row.page, f"{row.height} px"]
        for prefix in ("vp", "fp"):
            chrome = t[f"{prefix}_chromium"]
            cold, warm = t[f"{prefix}_cold"], t[f"{prefix}_warm"]
            ratios[f"{prefix}_cold"].append(cold / chrome)
            ratios[f"{prefix}_warm"].append(warm / chrome)
            cells += [f"{cold:.2f}", f"{chrome:.2f}", f"{cold / chrome:.2f}", f"{warm:.2f}",
                      f"{warm / chrome:.2f}"]
        print("| " + " | ".join(cells) + " |")
    med = {k: statistics.median(v) for k, v in ratios.items()}
    print(f"| **median ratio** | | | | **{med['vp_cold']:.2f}** | | **{med['vp_warm']:.2f}** "
          f"| | | **{med['fp_cold']:.2f}** | | **{med['fp_warm']:.2f}** |")
    print(f"\nThroughput, viewport captures per minute ({args.throughput} captures over the pages):\n")
    print("| engine | concurrency 1 | concurrency 2 |")
    print("|---|---|---|")
    for name, values in throughput.items():
        print(f"| {name} | {values[1]:.0f} | {values[2]:.0f} |")
    print(json.dumps({"median_ratios": {k: round(v, 3) for k, v in med.items()},
                      "throughput_per_min": {k: {str(c): round(v, 1) for c, v in vals.items()}
                                             for k, vals in throughput.items()}}), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="warm/Chromium samples per page (median)")
    parser.add_argument("--throughput", type=int, default=12, help="captures per throughput run")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
