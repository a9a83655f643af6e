"""Copies of captures handed to other apps: drag-out and "Copy file".

Names come from the settings' file-name template, exactly as "Export to folder" names them
(:func:`shotdesk.core.export.export_folder`: the same tokens, made safe for every file system,
always with the right extension, collision-safe ``name.png``, ``name-2.png``…). Files are
*copies*, never the cached blob: an app that edits the file it received must not change the
content-addressed store.

Pure Python (no Qt). "Copy file" runs :func:`export_copies` in a worker thread. A drag needs its
files the moment it starts, so :class:`DragCopies` makes them ahead, in its own worker thread,
whenever the selection changes: the drag then only hands over paths.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shotdesk.core.blobs import storage_error
from shotdesk.core.errors import ShotDeskError, StorageError
from shotdesk.core.export import DEFAULT_TEMPLATE, export_folder, human_size

if TYPE_CHECKING:
    from shotdesk.core.library import Capture

log = logging.getLogger(__name__)

#: Leftover drag exports older than this are removed when the next drag starts.
_KEEP_S = 24 * 3600


def drag_folder(root: Path | None = None, *, prune: bool = True) -> Path:
    """A fresh folder for one drag's copies under the temporary directory; old ones are pruned."""
    base = root or Path(tempfile.gettempdir()) / "shotdesk-drag"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if prune:
            prune_drag_folders(base)
        return Path(tempfile.mkdtemp(prefix="drag-", dir=base))
    except OSError as exc:
        raise storage_error(exc, base, 0, "the files to drag") from None


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


#: A selection is copied ahead for dragging up to this many files and bytes (copies live in the
#: temporary folder, often RAM-backed); a drag that was not prepared copies at once only up to
#: the smaller bounds, since it waits on the window.
PREPARE_LIMIT = (100, 256 * 1024 * 1024)
AT_ONCE_LIMIT = (20, 64 * 1024 * 1024)

_Key = tuple[str, tuple[tuple[int, str | None], ...]]


@dataclass
class _Prepared:
    key: _Key
    folder: Path
    files: list[Path]
    #: (size, mtime) of each file as made: a receiving app that changed one makes the set stale.
    stamps: list[tuple[int, int]]
    #: Handed to a drag: another app may still read the folder, so it is never removed early.
    used: bool = False

    def intact(self) -> bool:
        try:
            return [_stamp(f) for f in self.files] == self.stamps
        except OSError:
            return False

    def discard(self) -> None:
        if not self.used:
            shutil.rmtree(self.folder, ignore_errors=True)


class DragCopies:
    """Drag-out copies of the selection, made ahead in a worker thread.

    :meth:`prepare` is called on every selection change: the newest selection wins (a preparation
    overtaken by a newer one is skipped, or its copies removed; a selection too large to prepare
    drops the previous copies). :meth:`files` is called when a drag starts: the prepared copies
    when they match and are unchanged — handed over again to a next drag of the same selection —
    else small selections are copied at once and large ones raise :class:`StorageError` saying to
    wait or to export. Handed-over copies stay for the receiving app
    (:func:`prune_drag_folders` removes them a day later).
    """

    def __init__(self, root: Path | None = None, *, prepare_limit: tuple[int, int] = PREPARE_LIMIT,
                 at_once_limit: tuple[int, int] = AT_ONCE_LIMIT) -> None:
        self._root = root
        self._prepare_limit = prepare_limit
        self._at_once_limit = at_once_limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drag-copies")
        self._lock = threading.Lock()
        self._wanted: _Key | None = None
        self._ready: _Prepared | None = None
        #: The last preparation that failed, and why (told at the drag instead of "wait").
        self._failed: tuple[_Key, ShotDeskError | OSError] | None = None
        self._closed = False

    # ---------------------------------------------------------------- GUI thread
    def prepare(self, captures: Sequence[Capture], template: str = DEFAULT_TEMPLATE) -> None:
        """Start copying ``captures`` (the ready ones) for a drag that may follow."""
        ready = _ready(captures)
        key = _key(ready, template)
        preparable = bool(ready) and _within(ready, self._prepare_limit)
        stale = None
        with self._lock:
            if self._closed or key == self._wanted:
                return
            self._wanted, self._failed = key, None
            if self._ready is not None and self._ready.key == key:
                return  # the copies of this selection are still there
            if not preparable:
                stale, self._ready = self._ready, None
        if stale is not None:
            stale.discard()
        if preparable:
            self._executor.submit(self._make, ready, template, key)

    def files(self, captures: Sequence[Capture], template: str = DEFAULT_TEMPLATE) -> list[Path]:
        """The files for a drag of ``captures`` starting now (see the class notes)."""
        ready = _ready(captures)
        if not ready:
            return []
        key = _key(ready, template)
        with self._lock:
            prepared = self._ready if self._ready is not None and self._ready.key == key else None
            if prepared is not None:
                prepared.used = True  # from now on no newer selection removes it
            failed = self._failed[1] if self._failed is not None and self._failed[0] == key else None
            if failed is not None:
                self._failed = None  # the next drag tries again
        if prepared is not None:
            if prepared.intact():
                return prepared.files
            with self._lock:  # changed (or cleaned away) since: copy again below; the old set stays
                if self._ready is prepared:
                    self._ready, self._wanted = None, None
        if not _within(ready, self._at_once_limit):
            total = human_size(sum(c.bytes for c in ready))
            if failed is not None:
                raise StorageError(f"The {len(ready)} files ({total}) to drag could not be prepared: "
                                   f"{failed}", hint="use Export to folder… (Ctrl+E) instead")
            if _within(ready, self._prepare_limit):
                self.prepare(ready, template)  # under way already, unless the selection never changed
                raise StorageError(f"The {len(ready)} files ({total}) are still being prepared for dragging",
                                   hint="start the drag again in a moment")
            raise StorageError(f"{len(ready)} captures ({total}) are too many to drag at once",
                               hint="use Export to folder… (Ctrl+E) instead")
        return export_copies(ready, drag_folder(self._root, prune=False), template)

    def ready_for(self, captures: Sequence[Capture], template: str = DEFAULT_TEMPLATE) -> bool:
        """Whether copies of ``captures`` wait for a drag."""
        key = _key(_ready(captures), template)
        with self._lock:
            return self._ready is not None and self._ready.key == key

    def close(self) -> None:
        """Stop preparing and remove copies nobody dragged (does not wait for a copy under way)."""
        with self._lock:
            self._closed, self._wanted = True, None
            stale, self._ready = self._ready, None
        self._executor.shutdown(wait=False, cancel_futures=True)
        if stale is not None:
            stale.discard()

    # ---------------------------------------------------------------- worker thread
    def _make(self, captures: list[Capture], template: str, key: _Key) -> None:
        with self._lock:
            if key != self._wanted:
                return  # overtaken while waiting
        folder: Path | None = None
        try:
            folder = drag_folder(self._root)
            files = export_copies(captures, folder, template)
            made = _Prepared(key, folder, files, [_stamp(f) for f in files])
        except (OSError, ShotDeskError) as exc:
            log.info("could not prepare files to drag: %s", exc)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)  # partial copies
            with self._lock:
                if key == self._wanted:
                    self._wanted, self._failed = None, (key, exc)  # files() tells the user
            return
        with self._lock:
            if key == self._wanted:
                stale, self._ready = self._ready, made
            else:
                stale = made
        if stale is not None:
            stale.discard()


def _ready(captures: Sequence[Capture]) -> list[Capture]:
    return [c for c in captures if c.status == "ready"]


def _key(captures: Sequence[Capture], template: str) -> _Key:
    return template, tuple((c.id, c.sha256) for c in captures)


def _within(captures: Sequence[Capture], limit: tuple[int, int]) -> bool:
    files, size = limit
    return len(captures) <= files and sum(c.bytes for c in captures) <= size


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns
