"""Copies of captures handed to other apps: drag-out and "Copy file".

Names come from the settings' file-name template, exactly as "Export to folder" names them
(:func:`shotdesk.core.export.export_folder`: the same tokens, made safe for every file system,
always with the right extension, collision-safe ``name.png``, ``name-2.png``…). Files are
*copies*, never the cached blob: an app that edits the file it received must not change the
content-addressed store.

Pure Python (no Qt, sync): the window runs :func:`export_copies` in a worker thread; a drag, which
needs its files at once, calls it on the GUI thread.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shotdesk.core.export import DEFAULT_TEMPLATE, export_folder

if TYPE_CHECKING:
    from shotdesk.core.library import Capture

#: Leftover drag exports older than this are removed when the next drag starts.
_KEEP_S = 24 * 3600


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
    """Copy the files of ready captures into ``folder`` under template names; skips the others.

    Raises ``StorageError`` when the folder cannot be written, ``InvalidSpec`` for a bad template.
    """
    report = export_folder([c for c in captures if c.status == "ready"], folder, template=template)
    return [folder / name for name in report.files.values()]
