"""``shotdesk gallery list [--json]``: what the gallery holds."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from shotdesk.core.library import Capture, Library


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gallery", help="look into the gallery")
    gsub = p.add_subparsers(dest="gallery_command", metavar="ACTION", required=True)
    lp = gsub.add_parser("list", help="list captures, newest first")
    lp.add_argument("--json", action="store_true", help="print records as JSON")
    lp.add_argument("--query", "-q", default="",
                    help="only captures whose URL, title or note matches these words")
    lp.add_argument("--provider", help="only captures from this provider")
    lp.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    lp.set_defaults(func=run_list)


def as_record(c: Capture) -> dict[str, object]:
    return {
        "id": c.id, "url": c.url, "provider": c.provider, "format": c.format,
        "width": c.width, "height": c.height, "bytes": c.bytes, "status": c.status,
        "version": c.version, "captured_at": c.captured_at.isoformat(),
        "path": str(c.blob_path) if c.blob_path else None, "error": c.error,
        "title": c.title, "tags": list(c.tags), "favourite": c.favourite,
    }


def run_list(args: argparse.Namespace) -> int:
    library = Library()
    if library.recovery is not None:
        print(f"shotdesk: {library.recovery}", file=sys.stderr)
    try:
        rows = library.list(query=args.query, provider=args.provider, limit=max(1, args.limit))
        total = library.count(query=args.query, provider=args.provider)
    finally:
        library.close()
    if args.json:
        print(json.dumps([as_record(c) for c in rows], indent=2))
        return 0
    if not rows:
        print("The gallery is empty. Capture something: shotdesk capture https://example.com")
        return 0
    now = datetime.now(UTC)
    for c in rows:
        size = f"{c.width}×{c.height}" if c.width else c.format.upper()
        status = "" if c.status == "ready" else f" [{c.status}]"
        print(f"#{c.id:<5} {_age(now, c.captured_at):>8}  {c.provider:<12} {size:>11}  {c.url}{status}")
    if total > len(rows):
        print(f"… {total - len(rows)} more (use --limit)")
    return 0


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
