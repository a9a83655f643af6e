"""CaptureService: the window's capture queue on top of the one capture pipeline.

A QObject living on the GUI thread. ``submit(spec)`` returns a job number at once; the job waits
in a FIFO queue until one of ``concurrency`` slots is free, then runs
``CapturePipeline.capture`` as a task kept alive by the :class:`TaskRegistry`. Everything the
window shows about a job comes from the signals below; widgets never touch the pipeline.

Signals (all emitted on the GUI thread):

* ``job_queued(job, spec)`` – a job entered the queue.
* ``job_started(job)`` – it got a slot and is running.
* ``job_progress(job, fraction, text)`` – fraction 0..1, or -1.0 when unknown.
* ``job_done(job, capture, cached)`` – the gallery row (``Capture``); ``cached`` when answered
  from the library without rendering.
* ``job_failed(job, message, capture)`` – a person-readable message; ``capture`` is the failed
  gallery row that was recorded (status ``failed``) or ``None``.
* ``job_cancelled(job)`` – cancelled before it finished; nothing was stored.
* ``capture_replaced(old_id)`` – a Retry succeeded/failed anew and the old failed row is gone.
* ``queue_changed(running, waiting)``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from shotdesk.capture.base import ProgressCallback
from shotdesk.core.errors import InvalidSpec, ShotDeskError
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.tasks import TaskRegistry

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 16


class _Outcome(Protocol):
    @property
    def capture(self) -> Any: ...
    @property
    def cached(self) -> bool: ...


class _Library(Protocol):
    def add_failed(self, spec: CaptureSpec, error: str) -> Any: ...
    def delete(self, capture_id: int) -> None: ...


class PipelineLike(Protocol):
    """What the service needs of :class:`shotdesk.services.pipeline.CapturePipeline`."""

    @property
    def library(self) -> Any: ...

    async def capture(self, spec: CaptureSpec, *, use_cache: bool = True,
                      progress: ProgressCallback | None = None, record_failure: bool = False,
                      replaces: int | None = None) -> Any: ...


@dataclass
class Job:
    id: int
    spec: CaptureSpec
    use_cache: bool = True
    replaces: int | None = None
    state: str = "waiting"  # waiting | running
    fraction: float = -1.0
    text: str = "Waiting"
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class CaptureService(QObject):
    job_queued = Signal(int, object)
    job_started = Signal(int)
    job_progress = Signal(int, float, str)
    job_done = Signal(int, object, bool)
    job_failed = Signal(int, str, object)
    job_cancelled = Signal(int)
    capture_replaced = Signal(int)
    queue_changed = Signal(int, int)

    def __init__(self, pipeline: PipelineLike, tasks: TaskRegistry, *, concurrency: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pipeline = pipeline
        self._tasks = tasks
        self._concurrency = _clamp_concurrency(concurrency)
        self._ids = itertools.count(1)
        self._waiting: deque[Job] = deque()
        self._running: dict[int, Job] = {}
        self._gui_thread = threading.get_ident()

    # ------------------------------------------------------------------ queries
    @property
    def pipeline(self) -> PipelineLike:
        return self._pipeline

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def set_concurrency(self, value: int) -> None:
        """Change the number of slots; more waiting jobs start at once if it grew."""
        self._concurrency = _clamp_concurrency(value)
        self._pump()

    def job(self, job_id: int) -> Job | None:
        if job_id in self._running:
            return self._running[job_id]
        return next((j for j in self._waiting if j.id == job_id), None)

    def jobs(self) -> list[Job]:
        """Running jobs first, then the waiting ones in queue order."""
        return [*self._running.values(), *self._waiting]

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def is_idle(self) -> bool:
        return not self._running and not self._waiting

    # ------------------------------------------------------------------ commands
    def submit(self, spec: CaptureSpec, *, use_cache: bool = True, replaces: int | None = None) -> int:
        """Queue a capture; returns its job number at once."""
        job = Job(next(self._ids), spec, use_cache=use_cache, replaces=replaces)
        self._waiting.append(job)
        self.job_queued.emit(job.id, spec)
        self._pump()
        self._emit_queue()
        return job.id

    def recapture(self, capture: Any) -> int | None:
        """Capture the same URL and options again as a new version (never served from the cache)."""
        spec = self._spec_of(capture)
        return None if spec is None else self.submit(spec, use_cache=False)

    def retry(self, capture: Any) -> int | None:
        """Capture a failed gallery row again; on success the failed row is replaced."""
        spec = self._spec_of(capture)
        return None if spec is None else self.submit(spec, use_cache=False, replaces=int(capture.id))

    def cancel(self, job_id: int) -> bool:
        """Cancel a waiting or running job; False when it is unknown or already finished."""
        for job in self._waiting:
            if job.id == job_id:
                self._waiting.remove(job)
                self.job_cancelled.emit(job_id)
                self._emit_queue()
                return True
        running = self._running.get(job_id)
        if running is not None and running.task is not None and not running.task.done():
            running.task.cancel()
            return True
        return False

    def cancel_all(self) -> None:
        for job in list(self._waiting):
            self.cancel(job.id)
        for job_id in list(self._running):
            self.cancel(job_id)

    # ------------------------------------------------------------------ internals
    def _spec_of(self, capture: Any) -> CaptureSpec | None:
        try:
            return CaptureSpec.from_dict(capture.spec)
        except (InvalidSpec, TypeError, ValueError) as exc:
            message = f"This capture's options cannot be used again: {exc}"
            job_id = next(self._ids)
            self.job_failed.emit(job_id, message, None)
            return None

    def _pump(self) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            job = self._waiting.popleft()
            job.state = "running"
            job.text = "Starting"
            self._running[job.id] = job
            job.task = self._tasks.spawn(self._run(job), name=f"capture-{job.id}")
            job.task.add_done_callback(functools.partial(self._settle, job))
            self.job_started.emit(job.id)

    def _emit_queue(self) -> None:
        self.queue_changed.emit(len(self._running), len(self._waiting))

    def _progress_callback(self, job: Job) -> ProgressCallback:
        loop = self._tasks.loop

        def report(fraction: float | None, text: str) -> None:
            if threading.get_ident() != self._gui_thread:
                loop.call_soon_threadsafe(report, fraction, text)
                return
            if job.id not in self._running:
                return
            job.fraction = -1.0 if fraction is None else max(0.0, min(1.0, float(fraction)))
            job.text = text
            self.job_progress.emit(job.id, job.fraction, text)

        return report

    async def _run(self, job: Job) -> None:
        try:
            outcome: _Outcome = await self._pipeline.capture(
                job.spec, use_cache=job.use_cache, progress=self._progress_callback(job),
                record_failure=False, replaces=job.replaces)
        except asyncio.CancelledError:
            self._finish(job)
            self.job_cancelled.emit(job.id)
            raise
        except ShotDeskError as exc:
            await self._record_failure(job, str(exc))
        except Exception as exc:  # a bug: still show it on the tile, and log the traceback
            log.exception("Capture job %d failed unexpectedly", job.id)
            await self._record_failure(job, f"Unexpected error: {exc.__class__.__name__}: {exc}")
        else:
            self._finish(job)
            if job.replaces is not None:
                self.capture_replaced.emit(job.replaces)
            self.job_done.emit(job.id, outcome.capture, bool(outcome.cached))
        finally:
            if job.id in self._running:  # not finished by a branch above (e.g. failure while recording)
                self._finish(job)

    async def _record_failure(self, job: Job, message: str) -> None:
        library: _Library = self._pipeline.library
        failed: Any = None
        try:
            failed = await asyncio.to_thread(library.add_failed, job.spec, message)
            if job.replaces is not None:
                await asyncio.to_thread(library.delete, job.replaces)
        except Exception:
            log.exception("Could not record the failed capture of %s", job.spec.url)
        self._finish(job)
        if job.replaces is not None and failed is not None:
            self.capture_replaced.emit(job.replaces)
        self.job_failed.emit(job.id, message, failed)

    def _settle(self, job: Job, _task: asyncio.Task[Any]) -> None:
        """A task cancelled before its coroutine started never ran ``_run``'s handlers: free its
        slot and report it cancelled here (a job ``_run`` finished is no longer running)."""
        if job.id in self._running:
            self._finish(job)
            self.job_cancelled.emit(job.id)

    def _finish(self, job: Job) -> None:
        if self._running.pop(job.id, None) is not None:
            self._pump()
            self._emit_queue()


def _clamp_concurrency(value: int) -> int:
    return max(1, min(MAX_CONCURRENCY, int(value)))
