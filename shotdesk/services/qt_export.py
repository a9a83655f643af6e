"""Export files under template names: drag-out copies and "Export…" to a folder.

Names come from the settings' file-name template (default ``{domain}_{width}x{height}_{date}.{ext}``;
tokens: ``{domain} {path} {title} {date} {time} {width} {height} {device} {format} {ext}
{provider} {id} {version}``), made safe for every file system, always with the right extension,
and collision-safe (``name.png``, ``name-2.png``…). Files are *copies*, never the cached blob: an
app that edits the file it received must not change the content-addressed store.

Pure Python (no Qt, sync): the window runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shotdesk.core.urls import domain_of

if TYPE_CHECKING:
    from shotdesk.core.library import Capture

DEFAULT_TEMPLATE = "{domain}_{width}x{height}_{date}.{ext}"
TOKENS = ("domain", "path", "title", "date", "time", "width", "height", "device", "format", "ext",
          "provider", "id", "version")
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')
_MAX_NAME = 150
#: Leftover drag exports older than this are removed when the next drag starts.
_KEEP_S = 24 * 3600


# ---------------------------------------------------------------------------------- file names
def filename_for(capture: Capture, template: str = DEFAULT_TEMPLATE) -> str:
    """The export file name of ``capture`` from ``template`` (unknown tokens stay literal)."""
    local = capture.captured_at.astimezone() if capture.captured_at.tzinfo else \
        capture.captured_at.replace(tzinfo=UTC).astimezone()
    path = urlsplit(capture.url).path.strip("/").replace("/", "-") or "home"
    values = {
        "domain": capture.domain or domain_of(capture.url),
        "path": path,
        "title": capture.title or capture.domain or "capture",
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H%M%S"),
        "width": str(capture.width),
        "height": str(capture.height),
        "device": capture.device or "custom",
        "format": capture.format,
        "ext": capture.extension,
        "provider": capture.provider,
        "id": str(capture.id),
        "version": str(capture.version),
    }

    def sub(match: re.Match[str]) -> str:
        token = match.group(1)
        return _safe(values[token]) if token in values else match.group(0)

    name = re.sub(r"\{(\w+)\}", sub, template or DEFAULT_TEMPLATE)
    name = _safe(name).strip(" .") or f"capture-{capture.id}"
    ext = "." + capture.extension
    if not name.lower().endswith(ext):
        name += ext  # the right extension, always
    if len(name) > _MAX_NAME:
        name = name[: _MAX_NAME - len(ext)].rstrip(" .") + ext
    return name


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip()


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``… when taken (never overwrites)."""
    candidate = folder / name
    stem, suffix = os.path.splitext(name)
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


# ---------------------------------------------------------------------------------- drag out
def drag_folder(root: Path | None = None) -> Path:
    """A fresh folder for one drag's copies under the temporary directory; old ones are pruned."""
    base = root or Path(tempfile.gettempdir()) / "shotdesk-drag"
    base.mkdir(parents=True, exist_ok=True)
    prune_drag_folders(base)
    return Path(tempfile.mkdtemp(prefix="drag-", dir=base))


def prune_drag_folders(base: Path, keep_s: float = _KEEP_S) -> None:
    cutoff = time.time() - keep_s
    with contextlib.suppress(OSError):
        for child in base.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir() and child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)


def export_copies(captures: Sequence[Capture], folder: Path,
                  template: str = DEFAULT_TEMPLATE) -> list[Path]:
    """Copy the files of ready captures into ``folder`` under template names; skips the others."""
    out: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    for capture in captures:
        src = capture.blob_path
        if capture.status != "ready" or src is None or not src.is_file():
            continue
        target = unique_path(folder, filename_for(capture, template))
        shutil.copyfile(src, target)
        out.append(target)
    return out
