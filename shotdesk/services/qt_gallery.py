"""GalleryService: changes to gallery rows from the window, run off the GUI thread.

Delete is a soft delete (``Library.delete``) remembered for one Undo (``Library.restore``);
exports copy files under template names. Every library call runs in a worker thread via the
:class:`TaskRegistry`; results come back as signals on the GUI thread:

* ``deleted(ids)`` – rows left the gallery (Undo possible while ``can_undo``).
* ``restored(captures)`` – rows came back.
* ``changed(capture)`` – a row's tags / note / favourite changed.
* ``exported(paths)`` – files written by an export.
* ``versions_loaded(key, captures)`` – every version of one URL + options, newest first.
* ``compared(id_a, id_b, diff)`` – a pixel diff (``shotdesk.core.compare.DiffResult``).
* ``error(message)`` – an operation failed (the message says what to do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from shotdesk.core.errors import ShotDeskError
from shotdesk.core.library import Capture, Library
from shotdesk.services.qt_export import export_copies
from shotdesk.services.tasks import TaskRegistry

log = logging.getLogger(__name__)


class GalleryService(QObject):
    deleted = Signal(list)
    restored = Signal(list)
    changed = Signal(object)
    exported = Signal(list)
    versions_loaded = Signal(str, list)  # series key, captures newest first
    compared = Signal(int, int, object)  # id a, id b, DiffResult
    error = Signal(str)

    def __init__(self, library: Library, tasks: TaskRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._tasks = tasks
        self._undo: list[int] = []

    @property
    def library(self) -> Library:
        return self._library

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    # ------------------------------------------------------------------ commands
    def delete(self, ids: Sequence[int]) -> asyncio.Task[None]:
        ids = [int(i) for i in ids]

        async def run() -> None:
            await asyncio.to_thread(self._delete_all, ids)
            self._undo = ids
            self.deleted.emit(ids)

        return self._spawn(run(), "delete")

    def _delete_all(self, ids: list[int]) -> None:
        for capture_id in ids:
            self._library.delete(capture_id)

    def undo_delete(self) -> asyncio.Task[None] | None:
        if not self._undo:
            return None
        ids, self._undo = self._undo, []

        async def run() -> None:
            restored = await asyncio.to_thread(self._restore_all, ids)
            self.restored.emit(restored)

        return self._spawn(run(), "undo-delete")

    def _restore_all(self, ids: list[int]) -> list[Capture]:
        out = []
        for capture_id in ids:
            capture = self._library.restore(capture_id)
            if capture is not None:
                out.append(capture)
        return out

    def export(self, captures: Sequence[Capture], folder: Path, template: str) -> asyncio.Task[None]:
        async def run() -> None:
            files = await asyncio.to_thread(export_copies, list(captures), folder, template)
            self.exported.emit(files)

        return self._spawn(run(), "export")

    def set_favourite(self, capture: Capture, value: bool) -> asyncio.Task[None] | None:
        return self._update(capture, "set_favourite", value)

    def set_note(self, capture: Capture, note: str) -> asyncio.Task[None] | None:
        return self._update(capture, "set_note", note)

    def set_tags(self, capture: Capture, tags: Sequence[str]) -> asyncio.Task[None] | None:
        return self._update(capture, "set_tags", list(tags))

    def supports(self, operation: str) -> bool:
        """Whether the library offers ``operation`` (tags, notes, favourites arrive with issue 5)."""
        return callable(getattr(self._library, operation, None))

    def _update(self, capture: Capture, method: str, value: Any) -> asyncio.Task[None] | None:
        fn: Callable[..., Any] | None = getattr(self._library, method, None)
        if fn is None:
            self.error.emit(f"This gallery cannot {method.replace('set_', 'set ')} yet")
            return None

        async def run() -> None:
            await asyncio.to_thread(fn, capture.id, value)
            fresh = await asyncio.to_thread(self._library.get, capture.id)
            if fresh is not None:
                self.changed.emit(fresh)

        return self._spawn(run(), method)

    def load_versions(self, capture: Capture) -> asyncio.Task[None]:
        key = capture.key

        async def run() -> None:
            self.versions_loaded.emit(key, await asyncio.to_thread(self._library.versions, key))

        return self._spawn(run(), "versions")

    def compare(self, a: Capture, b: Capture) -> asyncio.Task[None]:
        """Diff two captures in a worker thread (Pillow); ``compared`` or ``error`` answers."""

        async def run() -> None:
            diff = await asyncio.to_thread(self._library.compare, a.id, b.id)
            self.compared.emit(a.id, b.id, diff)

        return self._spawn(run(), "compare")

    def get(self, capture_id: int, callback: Callable[[Capture | None], None]) -> asyncio.Task[None]:
        async def run() -> None:
            callback(await asyncio.to_thread(self._library.get, capture_id))

        return self._spawn(run(), "get")

    # ------------------------------------------------------------------ internals
    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except ShotDeskError as exc:
                self.error.emit(str(exc))
            except OSError as exc:
                self.error.emit(f"{name.replace('-', ' ').capitalize()} failed: {exc}")

        return self._tasks.spawn(guarded(), name=f"gallery-{name}")
