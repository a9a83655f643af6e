"""Small text helpers for captions, labels and the status bar (pure functions, no widgets)."""

from __future__ import annotations

from datetime import UTC, datetime


def human_bytes(count: int) -> str:
    """``1234567`` → ``1.2 MB`` (decimal units, like file managers)."""
    value = float(max(0, count))
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def age_text(when: datetime, now: datetime | None = None) -> str:
    """A short relative age: ``just now``, ``5 min``, ``3 h``, ``2 d``, then the date."""
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h"
    if seconds < 7 * 86_400:
        return f"{int(seconds // 86_400)} d"
    local = when.astimezone()
    return local.strftime("%-d %b %Y") if local.year != now.year else local.strftime("%-d %b")


def scale_text(scale: float) -> str:
    return f"{scale:g}×"


def output_size_text(width: int, height: int, scale: float, *, full_page: bool = False) -> str:
    """``1280×720 @2× → 2560×1440 px`` (a full page keeps the width; its height is the page's)."""
    out_w, out_h = round(width * scale), round(height * scale)
    head = f"{width}×{height} @{scale_text(scale)}"
    if full_page:
        return f"{head} → {out_w} px wide × page height"
    return f"{head} → {out_w}×{out_h} px"


def local_time_text(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
