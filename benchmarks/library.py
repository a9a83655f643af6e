"""Library benchmarks (issue 5): diff of two 1280 × 8000 captures, FTS search over 10,000 rows,
integrity check over 10,000 rows — each against a baseline measured in the same run.

    .venv/bin/python benchmarks/library.py [--rows 10000] [--repeat 5]

Baselines: a naive per-pixel Python diff on a 1280 × 200 band, scaled up to the full page; a plain
``LIKE '%word%'`` scan over URL, title and note on the same index; a per-row ``exists()`` check of
every blob and thumbnail instead of one listing of the cache folders.

``make_library(path, n)`` builds a realistic gallery of ``n`` rows (with real tiny files) fast;
``benchmarks/gallery.py`` may import it.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw

from shotdesk.core import compare
from shotdesk.core.blobs import relative_name, sha256_hex
from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec

_WORDS = ("pricing", "checkout", "landing", "blog", "launch", "docs", "careers", "about", "contact",
          "dashboard", "signup", "login", "features", "release", "notes", "support", "status", "gallery",
          "portfolio", "summer", "campaign", "redesign", "mobile", "hero", "footer", "newsletter")
_TLDS = ("com", "io", "dev", "org", "net", "co.uk", "de", "fr")


def make_library(path: Path, n: int, *, seed: int = 1, with_files: bool = True) -> Library:
    """A gallery of ``n`` captures under ``path`` (index ``path/gallery.sqlite3``, files in
    ``path/cache``), built in one transaction: ~200 domains, series with several versions,
    titles and notes with searchable words, tags, favourites, failed rows, six months of dates.

    Every ready row has its own small real PNG blob and WebP thumbnail when ``with_files``.
    The caller closes the returned library.
    """
    rnd = random.Random(seed)
    path = Path(path)
    lib = Library(path / "gallery.sqlite3", path / "cache")
    domains = [f"{rnd.choice(_WORDS)}{i}.example.{rnd.choice(_TLDS)}" for i in range(200)]
    now = time.time()
    rows: list[dict[str, Any]] = []
    tags: list[tuple[int, str]] = []
    versions: dict[str, int] = {}
    specs: list[CaptureSpec] = []
    for _ in range(max(1, n // 3)):  # ~3 versions per series
        domain = rnd.choice(domains)
        page = "/".join(rnd.sample(_WORDS, rnd.randint(0, 2)))
        width, height = rnd.choice(((1280, 720), (1440, 900), (390, 844), (820, 1180), (1920, 1080)))
        specs.append(CaptureSpec(url=f"https://{domain}/{page}", width=width, height=height,
                                 provider=rnd.choice(("local", "local", "snapsharp", "urlbox")),
                                 format=rnd.choice(("png", "png", "jpeg", "webp")),
                                 full_page=rnd.random() < 0.3))
    base_thumb = io.BytesIO()
    Image.new("RGB", (32, 20), (200, 200, 200)).save(base_thumb, format="WEBP")
    for i in range(n):
        spec = rnd.choice(specs)
        key = spec.cache_key()
        captured = now - rnd.uniform(0, 180 * 86400)
        failed = rnd.random() < 0.03
        version = versions.get(key, 0) + (0 if failed else 1)
        versions[key] = version
        row: dict[str, Any] = {
            "id": i + 1, "key": key, "url": spec.url, "final_url": None,
            "domain": spec.url.split("/")[2], "provider": spec.provider, "format": spec.format,
            "width": spec.width, "height": spec.height * (3 if spec.full_page else 1),
            "viewport_w": spec.width, "viewport_h": spec.height, "device": None, "bytes": 0,
            "sha256": None, "blob": None, "thumb": None, "thumb_bytes": 0,
            "status": "failed" if failed else "ready", "error": "Page load failed" if failed else None,
            "captured_at": captured, "last_access": captured, "version": max(1, version),
            "title": " ".join(w.capitalize() for w in rnd.sample(_WORDS, 3)) + f" – {spec.url.split('/')[2]}",
            "spec": json.dumps(spec.to_dict(), sort_keys=True), "metadata": "{}",
            "elapsed_ms": rnd.randint(300, 4000),
            "note": (" ".join(rnd.sample(_WORDS, 5)) + ".") if rnd.random() < 0.1 else "",
            "favourite": int(rnd.random() < 0.02), "flags": "", "unchanged": 0, "changed_pct": None,
        }
        if not failed and with_files:
            img = Image.new("RGB", (16, 10), (i % 256, (i // 256) % 256, (i // 65536) % 256))
            buf = io.BytesIO()
            img.save(buf, format={"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[spec.format])
            data = buf.getvalue()
            sha = sha256_hex(data)
            ext = spec.extension
            name = relative_name(sha, ext)
            target = lib.blobs.resolve(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            thumb = relative_name(sha, "webp")
            tpath = lib.thumbs.resolve(thumb)
            tpath.parent.mkdir(parents=True, exist_ok=True)
            tpath.write_bytes(base_thumb.getvalue())
            row.update(sha256=sha, blob=name, thumb=thumb, bytes=len(data),
                       thumb_bytes=len(base_thumb.getvalue()))
        rows.append(row)
        if rnd.random() < 0.05:
            tags.append((i + 1, rnd.choice(("client", "competitor", "review", "launch", "archive"))))
    cols = list(rows[0])
    with lib._tx() as db:  # bulk load: one transaction, bypassing the per-capture file work
        marks = ", ".join(":" + c for c in cols)
        db.executemany(f"INSERT INTO captures ({', '.join(cols)}) VALUES ({marks})", rows)
        db.executemany("INSERT OR IGNORE INTO tags (capture_id, tag) VALUES (?, ?)", tags)
    return lib


# ---------------------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in seconds over ``repeat`` runs (after one warm-up) and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def tall_page(seed: int) -> Image.Image:
    rnd = random.Random(seed)
    img = Image.new("RGB", (1280, 8000), (255, 255, 255))
    d = ImageDraw.Draw(img)
    y = 0
    while y < 8000:
        if rnd.random() < 0.1:
            h = rnd.randint(200, 600)
            colour = (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255))
            d.rectangle((80, y, 1200, y + h), fill=colour)
            y += h + 40
        else:
            d.text((80, y), " ".join(rnd.choice(_WORDS) for _ in range(16)), fill=(30, 30, 30))
            y += 22
    return img


def naive_diff(a: Image.Image, b: Image.Image, threshold: int = compare.DEFAULT_THRESHOLD) -> int:
    """The baseline: a per-pixel Python loop."""
    pa, pb = a.load(), b.load()
    assert pa is not None and pb is not None
    changed = 0
    for y in range(a.height):
        for x in range(a.width):
            ra, ga, ba_ = pa[x, y]  # type: ignore[misc]
            rb, gb, bb = pb[x, y]  # type: ignore[misc]
            if max(abs(ra - rb), abs(ga - gb), abs(ba_ - bb)) > threshold:
                changed += 1
    return changed


def bench_compare(repeat: int) -> list[tuple[str, float, str]]:
    a = tall_page(1)
    b = a.copy()
    ImageDraw.Draw(b).rectangle((0, 3000, 1279, 3799), fill=(220, 30, 30))  # 10 % of the page
    out: list[tuple[str, float, str]] = []
    t_full, result = timed(lambda: compare.diff_images(a, b), repeat)
    out.append(("diff 1280×8000 + heat map (Pillow)", t_full,
                f"{result.changed_pct:.2f}% changed (10.00 expected)"))
    t_plain, _ = timed(lambda: compare.diff_images(a, b, heatmap=False), repeat)
    out.append(("diff 1280×8000, percentage only", t_plain, ""))
    buf_a, buf_b = io.BytesIO(), io.BytesIO()
    a.save(buf_a, format="PNG")
    b.save(buf_b, format="PNG")
    t_files, _ = timed(lambda: compare.diff_images(buf_a.getvalue(), buf_b.getvalue()), max(1, repeat // 2))
    out.append(("diff of the two PNG files (decode included)", t_files, ""))
    band = 200
    start = time.perf_counter()
    naive_diff(a.crop((0, 3000, 1280, 3000 + band)), b.crop((0, 3000, 1280, 3000 + band)))
    t_naive = (time.perf_counter() - start) * (8000 / band)
    out.append(("baseline: per-pixel Python loop (200-px band × 40)", t_naive,
                f"Pillow is {t_naive / t_full:.0f}× faster with the heat map, "
                f"{t_naive / t_plain:.0f}× without"))
    t_hash, _ = timed(lambda: compare.phash(a), repeat)
    out.append(("pHash of a 1280×8000 capture", t_hash, ""))
    t_blank, _ = timed(lambda: compare.is_blank(a), repeat)
    out.append(("is_blank of a 1280×8000 capture", t_blank, ""))
    return out


def bench_search(lib: Library, repeat: int) -> list[tuple[str, float, str]]:
    queries = ["pricing", "checkout redesign", "example.io", "summ", '"release notes"', "zzzz-nothing"]
    out: list[tuple[str, float, str]] = []
    db = lib._conn

    def like_page(q: str) -> list[Any]:
        words = [w.strip('"') for w in q.split()]
        where = " AND ".join("(url LIKE ? OR title LIKE ? OR note LIKE ?)" for _ in words)
        params = [p for w in words for p in (f"%{w}%",) * 3]
        rows = db.execute(f"SELECT id FROM captures WHERE deleted_at IS NULL AND {where} "
                          "ORDER BY captured_at DESC LIMIT 100", params).fetchall()
        db.execute(f"SELECT count(*) FROM captures WHERE deleted_at IS NULL AND {where}", params).fetchone()
        return rows

    def fts_page(q: str) -> list[Any]:
        clause, params = lib._search_clause(q)
        rows = db.execute(f"SELECT id FROM captures c WHERE c.deleted_at IS NULL AND {clause} "
                          "ORDER BY c.captured_at DESC LIMIT 100", params).fetchall()
        db.execute(f"SELECT count(*) FROM captures c WHERE c.deleted_at IS NULL AND {clause}",
                   params).fetchone()
        return rows

    fts_total = like_total = 0.0
    for q in queries:
        def full(q: str = q) -> tuple[list[Any], int]:
            return lib.list(query=q, limit=100), lib.count(query=q)

        def fts(q: str = q) -> list[Any]:
            return fts_page(q)

        def like(q: str = q) -> list[Any]:
            return like_page(q)

        t_full, rows = timed(full, repeat)
        t_fts, _ = timed(fts, repeat)
        t_like, _ = timed(like, repeat)
        fts_total += t_fts
        like_total += t_like
        out.append((f"search {q!r}: Library.list (100 rows) + count", t_full,
                    f"{rows[1]} hits; ids page + count by FTS5 {t_fts * 1000:.1f} ms, "
                    f"by LIKE scan {t_like * 1000:.1f} ms"))
    out.append(("all searches, ids page + count: FTS5", fts_total,
                f"LIKE scan {like_total * 1000:.1f} ms; FTS/LIKE {fts_total / like_total:.2f}"))
    t_filter, _ = timed(lambda: lib.list(provider="snapsharp", format="png", limit=100), repeat)
    out.append(("filter provider+format, page of 100", t_filter, ""))
    t_page, _ = timed(lambda: lib.list(limit=100, offset=5000), repeat)
    out.append(("newest-first page at offset 5000", t_page, ""))
    return out


def bench_integrity(lib: Library, repeat: int) -> list[tuple[str, float, str]]:
    out: list[tuple[str, float, str]] = []
    t_check, report = timed(lambda: lib.integrity_check(purge_deleted_after_s=None), repeat)
    out.append((f"integrity check over {report.rows_checked} rows", t_check,
                f"{report.marked_missing} missing, {report.orphans_removed} orphans"))

    def naive() -> int:
        gone = 0
        for c in lib.list(limit=10**9, status=("ready", "missing")):
            if c.blob_path is not None and not c.blob_path.exists():
                gone += 1
            if c.thumb_path is not None and not c.thumb_path.exists():
                gone += 1
        return gone

    t_naive, _ = timed(naive, repeat)
    out.append(("baseline: exists() per blob and thumbnail", t_naive,
                f"ratio check/baseline {t_check / t_naive:.2f}"))
    return out


def bench_open(path: Path, repeat: int) -> list[tuple[str, float, str]]:
    def reopen() -> None:
        Library(path / "gallery.sqlite3", path / "cache").close()

    t_open, _ = timed(reopen, repeat)
    return [("open the 10,000-row index (quick_check + migrations)", t_open, "")]


def bench_add(tmp: Path, repeat: int) -> list[tuple[str, float, str]]:
    from shotdesk.capture.base import CaptureResult

    lib = Library(tmp / "add.sqlite3", tmp / "addcache")
    spec = CaptureSpec(url="https://tall.example/", full_page=True)
    pages = []
    for i in range(repeat + 2):
        buf = io.BytesIO()
        tall_page(100 + i).save(buf, format="PNG")
        pages.append(buf.getvalue())
    it = iter(pages)

    def add() -> None:
        data = next(it)
        lib.add(spec, CaptureResult(data, "image/png", 1280, 8000, "local"), elapsed_ms=1)

    t_add, _ = timed(add, repeat)
    lib.close()
    return [("add a 1280×8000 PNG (files, thumbnail, hash, diff vs previous)", t_add, "")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shotdesk-bench-") as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        lib = make_library(tmp / "lib", args.rows)
        built = time.perf_counter() - start
        results: list[tuple[str, float, str]] = [(f"make_library({args.rows}) with files", built, "")]
        try:
            results += bench_search(lib, args.repeat)
            results += bench_integrity(lib, max(1, args.repeat // 2))
        finally:
            lib.close()
        results += bench_open(tmp / "lib", args.repeat)
        results += bench_compare(max(1, args.repeat // 2))
        results += bench_add(tmp, max(1, args.repeat // 2))
    width = max(len(name) for name, _, _ in results)
    print(f"{'benchmark':<{width}}  {'median':>10}  notes")
    for name, seconds, note in results:
        print(f"{name:<{width}}  {seconds * 1000:>8.1f} ms  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
