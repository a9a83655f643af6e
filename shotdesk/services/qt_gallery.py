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
* ``export_progress(done, total)`` / ``export_finished(kind, report)`` – exports to a folder, a
  zip or an HTML contact sheet (``shotdesk.core.export.ExportReport``) and responsive sheets
  (kind ``"sheet"``, report = the written ``Path``).
* ``integrity_checked(report)`` – the start-up check (``IntegrityReport``) finished.
* ``facets_loaded(domains, viewports)`` – what the domain and viewport filters offer.
* ``similar_loaded(capture_id, groups)`` – near-duplicate groups (lists of captures); with a
  capture id only the group holding it (or none).
* ``error(message)`` – an operation failed (the message says what to do).

:class:`CaptureBatch` follows a group of jobs in the :class:`CaptureService` queue as one
(progress, cancel, results), and :class:`LibraryJobs` builds on it: "re-capture everything older
than N days" / "re-capture the selection" and the responsive sheet (capture the missing device
presets, then draw the sheet). All captures go through the one queue, so concurrency, the
queue's progress and Cancel all are shared with captures started from the form.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from shotdesk.core import export as core_export
from shotdesk.core.devices import find_device
from shotdesk.core.errors import InvalidSpec, ShotDeskError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.qt_export import export_copies
from shotdesk.services.tasks import TaskRegistry

if TYPE_CHECKING:
    from shotdesk.services.capture_service import CaptureService

EXPORT_KINDS = ("folder", "zip", "html")

log = logging.getLogger(__name__)


class GalleryService(QObject):
    deleted = Signal(list)
    restored = Signal(list)
    changed = Signal(object)
    exported = Signal(list)
    versions_loaded = Signal(str, list)  # series key, captures newest first
    compared = Signal(int, int, object)  # id a, id b, DiffResult
    export_progress = Signal(int, int)  # done, total
    export_finished = Signal(str, object)  # kind, ExportReport (folder/zip/html) or Path (sheet)
    integrity_checked = Signal(object)  # IntegrityReport
    facets_loaded = Signal(list, list)  # [(domain, n)], [((w, h), n)]
    similar_loaded = Signal(object, list)  # capture id or None, [[Capture, ...], ...]
    error = Signal(str)

    def __init__(self, library: Library, tasks: TaskRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._tasks = tasks
        self._undo: list[int] = []
        #: Row writes under way (delete, restore, favourite/tags/note): shutdown lets them finish.
        self._writes: set[asyncio.Task[None]] = set()

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

        return self._spawn(run(), "delete", write=True)

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

        return self._spawn(run(), "undo-delete", write=True)

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

    def export_to(self, kind: str, captures: Sequence[Capture], target: Path, *, template: str,
                  title: str = "ShotDesk contact sheet", new_folder: bool = False) -> asyncio.Task[None]:
        """Export ``captures`` (``kind``: folder, zip or html) in a worker thread.

        ``new_folder``: write into a new, uniquely named folder inside ``target`` (a contact sheet
        chosen into an existing folder does not mix with what is there).

        ``export_progress`` reports each file; ``export_finished(kind, report)`` the result (files
        written, captures skipped and why); ``error`` a clear message on failure."""
        if kind not in EXPORT_KINDS:
            raise ValueError(f"unknown export kind {kind!r}")
        chosen = list(captures)
        loop = self._tasks.loop

        def progress(done: int, total: int) -> None:  # called in the worker thread
            loop.call_soon_threadsafe(self.export_progress.emit, done, total)

        def work() -> core_export.ExportReport:
            if not any(c.status != "failed" and c.blob_path is not None and c.blob_path.is_file()
                       for c in chosen):  # write no empty zip / sheet
                return core_export.ExportReport(target, skipped=[(c.id, _why_not(c)) for c in chosen])
            where = target
            if new_folder:
                where = _new_folder(target, default_export_name("shotdesk-contact-sheet"))
            if kind == "folder":
                return core_export.export_folder(chosen, where, template=template, progress=progress)
            if kind == "zip":
                return core_export.export_zip(chosen, where, template=template, progress=progress)
            return core_export.export_html(chosen, where, title=title, template=template, progress=progress)

        async def run() -> None:
            self.export_progress.emit(0, len(chosen))
            report = await asyncio.to_thread(work)
            if report.count == 0:
                reasons = "; ".join(sorted({why for _id, why in report.skipped})) or "nothing was selected"
                self.error.emit(f"Nothing was exported: {reasons}")
                return
            await asyncio.to_thread(self._library.touch, list(report.files))
            self.export_finished.emit(kind, report)

        return self._spawn(run(), f"export-{kind}")

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

        return self._spawn(run(), method, write=True)

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

    def check_integrity(self) -> asyncio.Task[None]:
        """``Library.integrity_check()`` in a worker thread; ``integrity_checked(report)`` answers."""

        async def run() -> None:
            self.integrity_checked.emit(await asyncio.to_thread(self._library.integrity_check))

        return self._spawn(run(), "integrity-check")

    def load_facets(self) -> asyncio.Task[None]:
        """The domains and viewports in the gallery, most used first (``facets_loaded``)."""

        def work() -> tuple[list[tuple[str, int]], list[tuple[tuple[int, int], int]]]:
            return self._library.domains(), self._library.viewports()

        async def run() -> None:
            domains, viewports = await asyncio.to_thread(work)
            self.facets_loaded.emit(domains, viewports)

        return self._spawn(run(), "facets")

    def load_similar(self, capture: Capture | None = None) -> asyncio.Task[None]:
        """Near-duplicate groups (perceptual hash); with ``capture``, only the group holding it."""
        wanted = capture.id if capture is not None else None

        async def run() -> None:
            groups = await asyncio.to_thread(self._library.near_duplicates)
            if wanted is not None:
                groups = [g for g in groups if any(c.id == wanted for c in g)]
            self.similar_loaded.emit(wanted, groups)

        return self._spawn(run(), "similar")

    def get(self, capture_id: int, callback: Callable[[Capture | None], None]) -> asyncio.Task[None]:
        async def run() -> None:
            callback(await asyncio.to_thread(self._library.get, capture_id))

        return self._spawn(run(), "get")

    # ------------------------------------------------------------------ internals
    async def finish_writes(self, timeout_s: float = 5.0) -> None:
        """Wait (bounded) for the row writes under way, e.g. a note saved just before the window
        closes, so that shutdown does not cancel them."""
        pending = [t for t in self._writes if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    def _spawn(self, coro: Any, name: str, *, write: bool = False) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except ShotDeskError as exc:
                self.error.emit(str(exc))
            except OSError as exc:
                self.error.emit(f"{name.replace('-', ' ').capitalize()} failed: {exc}")

        task = self._tasks.spawn(guarded(), name=f"gallery-{name}")
        if write:
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        return task


# ---------------------------------------------------------------------------------- batches
class CaptureBatch(QObject):
    """Jobs of the :class:`CaptureService` queue followed as one (a refresh, a responsive sheet).

    Add job numbers with :meth:`add` (None: the service refused the capture at once), then
    :meth:`seal`; ``progress(finished, total, failed)`` follows every job and ``finished(batch)``
    comes once when all are done, failed or cancelled. :meth:`cancel` cancels the batch's jobs
    only (other captures in the queue go on).
    """

    progress = Signal(int, int, int)  # finished, total, failed
    finished = Signal(object)  # this batch

    def __init__(self, service: CaptureService, name: str, loop: asyncio.AbstractEventLoop,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._service = service
        self._loop = loop
        #: job → its capture once done (None while running, failed or cancelled).
        self.results: dict[int, Capture | None] = {}
        self._pending: set[int] = set()
        self.failures: list[str] = []
        self.cancelled = False
        self._refused = 0
        self._sealed = False
        self._done = asyncio.Event()
        service.job_done.connect(self._on_done)
        service.job_failed.connect(self._on_failed)
        service.job_cancelled.connect(self._on_cancelled)

    # ------------------------------------------------------------------ state
    @property
    def total(self) -> int:
        return len(self.results) + self._refused

    @property
    def finished_count(self) -> int:
        return self.total - len(self._pending)

    @property
    def captures(self) -> list[Capture]:
        return [c for c in self.results.values() if c is not None]

    @property
    def is_done(self) -> bool:
        return self._done.is_set()

    async def wait(self) -> None:
        await self._done.wait()

    # ------------------------------------------------------------------ commands
    def add(self, job: int | None, *, refused_reason: str = "its options cannot be used again") -> None:
        if job is None:
            self._refused += 1
            self.failures.append(refused_reason)
            return
        self.results[job] = None
        self._pending.add(job)

    def seal(self) -> None:
        """No more jobs: ``finished`` comes when the pending ones end (at once when none)."""
        self._sealed = True
        self._report()

    def cancel(self) -> None:
        self.cancelled = True
        for job in list(self._pending):
            queued = self._service.job(job)
            if queued is not None and queued.state == "waiting":
                self._service.cancel(job)
            else:
                # A job that got its slot this very turn has a task that has not started yet;
                # cancelling it now would skip CaptureService's cancel handling (the job would
                # never report). On the next turn it has started and cancels cleanly.
                self._loop.call_soon(self._service.cancel, job)
        if not self._sealed:
            self.seal()

    # ------------------------------------------------------------------ service signals
    def _on_done(self, job: int, capture: Capture, _cached: bool) -> None:
        if job in self._pending:
            self._pending.discard(job)
            self.results[job] = capture
            self._report()

    def _on_failed(self, job: int, message: str, _capture: object) -> None:
        if job in self._pending:
            self._pending.discard(job)
            self.failures.append(message)
            self._report()

    def _on_cancelled(self, job: int) -> None:
        if job in self._pending:
            self._pending.discard(job)
            self.cancelled = True
            self._report()

    def _report(self) -> None:
        if self._done.is_set():
            return
        self.progress.emit(self.finished_count, self.total, len(self.failures))
        if self._sealed and not self._pending:
            self._done.set()
            for signal, slot in ((self._service.job_done, self._on_done),
                                 (self._service.job_failed, self._on_failed),
                                 (self._service.job_cancelled, self._on_cancelled)):
                signal.disconnect(slot)
            self.finished.emit(self)


class LibraryJobs(QObject):
    """Refresh (re-capture old captures or a selection) and responsive sheets, via the queue.

    Signals: ``batch_started(batch, what)`` – a :class:`CaptureBatch` began ("refresh" or
    "sheet"); ``sheet_done(path, failures)`` – a responsive sheet was written; ``error(message)``.
    """

    batch_started = Signal(object, str)
    sheet_done = Signal(object, list)  # Path, [failure messages]
    error = Signal(str)

    def __init__(self, library: Library, captures: CaptureService, tasks: TaskRegistry,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._captures = captures
        self._tasks = tasks

    # ------------------------------------------------------------------ refresh
    def refresh(self, older_than_s: float, *, ids: Sequence[int] | None = None,
                status: str | None = None) -> CaptureBatch:
        """Re-capture the newest version of every URL + options older than ``older_than_s`` (or of
        the series of ``ids``, any age when ``older_than_s`` is 0; ``status``: only series whose
        newest row has it, e.g. "missing"). Earlier versions are kept; a failed newest row is
        replaced by the new attempt. Returns the batch at once."""
        batch = CaptureBatch(self._captures, "refresh", self._tasks.loop, self)
        chosen = None if ids is None else [int(i) for i in ids]

        async def run() -> None:
            candidates = await asyncio.to_thread(self._candidates, older_than_s, chosen, status)
            if not batch.cancelled:
                for c in candidates:
                    retry = c.status == "failed"
                    batch.add(self._captures.retry(c) if retry else self._captures.recapture(c))
            batch.seal()

        self.batch_started.emit(batch, "refresh")
        self._spawn(run(), "refresh", batch)
        return batch

    def _candidates(self, older_than_s: float, ids: list[int] | None, status: str | None) -> list[Capture]:
        filters: dict[str, Any] = {"status": status} if status else {}
        if ids is None:
            return self._library.refresh_candidates(older_than_s, **filters)
        # A selection may hold older versions: refresh the series each belongs to (its newest row).
        keys = {c.key for c in self._library.get_many(ids)}
        newest = [rows[0].id for rows in (self._library.list(key=k, limit=1) for k in keys) if rows]
        return self._library.refresh_candidates(older_than_s, ids=newest, **filters)

    # ------------------------------------------------------------------ responsive sheet
    def responsive_sheet(self, capture: Capture, device_names: Sequence[str], out_path: Path, *,
                         title: str | None = None) -> CaptureBatch:
        """One labelled image of ``capture``'s page on each device preset.

        Presets already in the gallery (same URL and options on that device, ready) are reused;
        the others are captured through the queue first. ``sheet_done(path, failures)`` when
        written (devices that failed are left out and listed), ``error`` when nothing could be.
        """
        batch = CaptureBatch(self._captures, "sheet", self._tasks.loop, self)
        names = list(dict.fromkeys(device_names))

        async def run() -> None:
            try:
                specs = [device_spec(capture, name) for name in names]
            except InvalidSpec as exc:
                batch.seal()
                self.error.emit(str(exc))
                return
            found = await asyncio.to_thread(self._ready_for, specs)
            jobs: dict[int, int] = {}
            for n, spec in enumerate(specs):
                if found[n] is None and not batch.cancelled:
                    job = self._captures.submit(spec, use_cache=True)
                    jobs[n] = job
                    batch.add(job)
            batch.seal()
            await batch.wait()
            if batch.cancelled:
                self.error.emit("Responsive sheet cancelled")
                return
            shots = [found[n] or (batch.results.get(jobs[n]) if n in jobs else None)
                     for n in range(len(specs))]
            usable = [c for c in shots if c is not None]
            if not usable:
                reasons = "; ".join(batch.failures) or "no capture is available"
                self.error.emit(f"The responsive sheet was not made: {reasons}")
                return
            path = await asyncio.to_thread(core_export.responsive_sheet, usable, out_path,
                                           title=title or capture.title or capture.url)
            self.sheet_done.emit(path, list(batch.failures))

        self.batch_started.emit(batch, "sheet")
        self._spawn(run(), "sheet", batch)
        return batch

    def _ready_for(self, specs: Sequence[CaptureSpec]) -> list[Capture | None]:
        out: list[Capture | None] = []
        for spec in specs:
            rows = self._library.list(key=spec.cache_key(), status="ready", limit=1)
            hit = rows[0] if rows and rows[0].blob_path is not None and rows[0].blob_path.is_file() else None
            out.append(hit)
        return out

    # ------------------------------------------------------------------ internals
    def _spawn(self, coro: Any, name: str, batch: CaptureBatch) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except (ShotDeskError, OSError) as exc:
                if not batch.is_done:
                    batch.cancel()
                self.error.emit(f"{name.capitalize()} failed: {exc}")

        return self._tasks.spawn(guarded(), name=f"library-{name}")


def device_spec(capture: Capture, device_name: str) -> CaptureSpec:
    """``capture``'s URL and options on the device preset ``device_name`` (viewport, scale, agent)."""
    device = find_device(device_name)
    return capture.capture_spec().with_changes(device=device.name, width=device.width, height=device.height,
                                               scale=device.scale, user_agent=device.user_agent)


def _why_not(capture: Capture) -> str:
    if capture.status == "failed" or capture.blob_path is None:
        return "the capture failed: there is no picture"
    return "the file is missing from the cache (re-capture it)"


def _new_folder(parent: Path, name: str) -> Path:
    """``parent/name`` created new (``name-2``… when taken)."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = parent / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"No free folder name like {name} in {parent}")


def default_export_name(prefix: str, suffix: str = "", now: datetime | None = None) -> str:
    """``shotdesk-export-2024-05-01`` + suffix: the name offered in save dialogs."""
    return f"{prefix}-{(now or datetime.now()).strftime('%Y-%m-%d')}{suffix}"
