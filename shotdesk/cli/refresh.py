"""``shotdesk refresh --older-than 1d``: re-capture every URL + options whose newest capture is old.

Each series (one URL with one set of options) whose newest capture is older than the given age is
captured again through the one capture path (:class:`~shotdesk.services.pipeline.CapturePipeline`,
cache bypassed), so the gallery keeps the old version and gains a new one. ``--ids`` refreshes a
selection instead; ``--dry-run`` only lists what would be captured. Progress goes to stdout, one
line per capture. Exit status: 0 all refreshed (or nothing to do), 2 invalid input, 3 some
captures failed (each failure is also recorded on its tile).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shotdesk.core.errors import InvalidSpec, ShotDeskError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("refresh", help="re-capture pages whose newest capture is old",
                       description="Re-capture every URL + options whose newest capture is older than "
                                   "--older-than (or the captures given with --ids). Earlier versions are "
                                   "kept. Exit status: 0 done, 2 invalid input, 3 some captures failed.")
    p.add_argument("--older-than", metavar="AGE", default=None,
                   help="age such as 90m, 12h, 1d, 2w (a bare number means days)")
    p.add_argument("--ids", metavar="1,2,3", help="refresh these captures (any age unless --older-than)")
    p.add_argument("--query", "-q", default="", help="only captures matching this search")
    p.add_argument("--provider", help="only captures from this provider")
    p.add_argument("--tag", help="only captures with this tag")
    p.add_argument("--dry-run", action="store_true", help="list what would be captured, capture nothing")
    p.add_argument("--json", action="store_true", help="print one JSON record per result")
    p.set_defaults(func=run)


def parse_age(text: str) -> float:
    """``"1d"`` → 86400.0 seconds; units s, m, h, d, w; a bare number means days."""
    match = _AGE_RE.match(text or "")
    if not match:
        raise InvalidSpec("older-than", f"--older-than must be an age such as 12h, 1d or 2w, got {text!r}")
    value, unit = float(match.group(1)), (match.group(2) or "d").lower()
    return value * _UNITS[unit]


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    except ValueError:
        raise InvalidSpec("ids", f"--ids must be capture numbers separated by commas, got {text!r}") from None
    if not ids:
        raise InvalidSpec("ids", "--ids needs at least one capture number, e.g. --ids 3,7")
    return ids


def select(library: Library, *, older_than_s: float, ids: Sequence[int] | None = None, query: str = "",
           provider: str | None = None, tag: str | None = None) -> list[Capture]:
    """The captures to refresh: the newest of each matching series, oldest first."""
    filters: dict[str, Any] = {}
    if query:
        filters["query"] = query
    if provider:
        filters["provider"] = provider
    if tag:
        filters["tag"] = tag
    return library.refresh_candidates(older_than_s, ids=ids, **filters)


@dataclass
class RefreshResult:
    source: Capture
    capture: Capture | None = None
    error: str | None = None
    elapsed_ms: int = 0


def run(args: argparse.Namespace) -> int:
    if args.older_than is None and not args.ids:
        raise InvalidSpec("older-than", "Say what to refresh: --older-than AGE (e.g. 1d) or --ids 1,2")
    older = parse_age(args.older_than) if args.older_than is not None else 0.0
    ids = parse_ids(args.ids) if args.ids else None
    if args.dry_run:
        library = Library()
        try:
            chosen = select(library, older_than_s=older, ids=ids, query=args.query, provider=args.provider,
                            tag=args.tag)
        finally:
            library.close()
        for c in chosen:
            print(f"would refresh #{c.id} v{c.version} {c.url} ({c.provider}, "
                  f"{c.captured_at.astimezone():%Y-%m-%d %H:%M})")
        print(f"{len(chosen)} capture(s) to refresh")
        return 0
    results = asyncio.run(_refresh(args, older, ids))
    failed = [r for r in results if r.error]
    if not results:
        print("Nothing to refresh: every selected page was captured recently.")
        return 0
    print(f"Refreshed {len(results) - len(failed)} of {len(results)}"
          + (f"; {len(failed)} failed (marked on their tiles)" if failed else ""))
    return 3 if failed else 0


class _Pipeline(Protocol):
    """What refresh needs of :class:`shotdesk.services.pipeline.CapturePipeline`."""

    library: Library

    async def capture(self, spec: CaptureSpec, *, use_cache: bool = ..., record_failure: bool = ...,
                      replaces: int | None = ...) -> Any: ...

    async def aclose(self) -> None: ...


def _open_pipeline() -> tuple[_Pipeline, int]:
    from shotdesk.core.settings import load_settings
    from shotdesk.services.pipeline import CapturePipeline

    settings = load_settings()
    return CapturePipeline.open_default(settings), int(settings.concurrency or 1)


#: Replaced by tests with a pipeline over a test provider.
open_pipeline: Callable[[], tuple[_Pipeline, int]] = _open_pipeline


async def _refresh(args: argparse.Namespace, older: float, ids: Sequence[int] | None) -> list[RefreshResult]:
    pipeline, concurrency = open_pipeline()
    try:
        chosen = await asyncio.to_thread(select, pipeline.library, older_than_s=older, ids=ids,
                                         query=args.query, provider=args.provider, tag=args.tag)
        total = len(chosen)
        gate = asyncio.Semaphore(max(1, concurrency))
        done = 0

        async def one(c: Capture) -> RefreshResult:
            nonlocal done
            async with gate:
                try:
                    spec = c.capture_spec()
                    outcome = await pipeline.capture(spec, use_cache=False, record_failure=True,
                                                     replaces=c.id if c.status == "failed" else None)
                    result = RefreshResult(c, outcome.capture, elapsed_ms=outcome.elapsed_ms)
                except ShotDeskError as exc:
                    result = RefreshResult(c, error=str(exc))
            done += 1
            _report(done, total, result, as_json=args.json)
            return result

        return list(await asyncio.gather(*(one(c) for c in chosen)))
    finally:
        await pipeline.aclose()


def _report(n: int, total: int, r: RefreshResult, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "source_id": r.source.id, "url": r.source.url, "ok": r.error is None,
            "id": r.capture.id if r.capture else None, "version": r.capture.version if r.capture else None,
            "unchanged": r.capture.unchanged if r.capture else None,
            "changed_pct": r.capture.changed_pct if r.capture else None,
            "elapsed_ms": r.elapsed_ms, "error": r.error,
        }), flush=True)
        return
    if r.capture is not None:
        change = ("unchanged" if r.capture.unchanged else
                  f"{r.capture.changed_pct:.1f}% changed" if r.capture.changed_pct is not None else "new")
        print(f"[{n}/{total}] {r.source.url} → #{r.capture.id} v{r.capture.version} "
              f"({change}, {r.elapsed_ms} ms)", flush=True)
    else:
        print(f"[{n}/{total}] {r.source.url} failed: {r.error}", file=sys.stderr, flush=True)
