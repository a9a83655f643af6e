"""CaptureService: queue, concurrency limit, cancel, failures recorded, retry replaces the failed row.

Runs on a qasync loop (``qloop``) with a stand-in pipeline that stores real images in a real
Library; the real engine path is covered by test_window_capture.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.capture_service import CaptureService
from shotdesk.services.tasks import TaskRegistry
from tests.gui.conftest import FakePipeline, wait_until


class Recorder:
    def __init__(self, service: CaptureService) -> None:
        self.events: list[tuple[str, Any]] = []
        service.job_queued.connect(lambda j, s: self.events.append(("queued", j)))
        service.job_started.connect(lambda j: self.events.append(("started", j)))
        service.job_done.connect(lambda j, c, cached: self.events.append(("done", (j, c))))
        service.job_failed.connect(lambda j, m, c: self.events.append(("failed", (j, m, c))))
        service.job_cancelled.connect(lambda j: self.events.append(("cancelled", j)))
        service.queue_changed.connect(lambda r, w: self.events.append(("queue", (r, w))))

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.events if k == kind]


def test_jobs_respect_the_concurrency_limit_and_all_finish(qtbot, qloop, tasks: TaskRegistry,
                                                           library: Library) -> None:
    pipeline = FakePipeline(library)
    pipeline.gate = asyncio.Event()
    service = CaptureService(pipeline, tasks, concurrency=2)
    rec = Recorder(service)
    jobs = [service.submit(CaptureSpec(f"https://s{i}.example/")) for i in range(5)]
    assert (service.running, service.waiting) == (2, 3)
    wait_until(qtbot, lambda: pipeline.running == 2, what="two running")
    pipeline.gate.set()
    wait_until(qtbot, service.is_idle, what="queue empty")
    assert pipeline.max_running == 2
    assert sorted(j for j, _ in rec.of("done")) == jobs
    assert library.count() == 5
    assert rec.of("queue")[-1] == (0, 0)


def test_cancel_a_waiting_and_a_running_job(qtbot, qloop, tasks: TaskRegistry, library: Library) -> None:
    pipeline = FakePipeline(library)
    pipeline.gate = asyncio.Event()
    service = CaptureService(pipeline, tasks, concurrency=1)
    rec = Recorder(service)
    first = service.submit(CaptureSpec("https://a.example/"))
    second = service.submit(CaptureSpec("https://b.example/"))
    assert service.cancel(second)
    wait_until(qtbot, lambda: pipeline.running == 1, what="first running")
    assert service.cancel(first)
    wait_until(qtbot, service.is_idle, what="queue empty")
    assert sorted(rec.of("cancelled")) == [first, second]
    assert library.count() == 0  # nothing stored
    assert not service.cancel(first)


def test_failure_is_recorded_and_retry_replaces_it(qtbot, qloop, tasks: TaskRegistry,
                                                    library: Library) -> None:
    pipeline = FakePipeline(library)
    pipeline.fail_hosts.add("later.example")
    service = CaptureService(pipeline, tasks)
    rec = Recorder(service)
    replaced: list[int] = []
    service.capture_replaced.connect(replaced.append)
    service.submit(CaptureSpec("https://later.example/page"))
    wait_until(qtbot, lambda: rec.of("failed"), what="failure")
    _, message, failed = rec.of("failed")[0]
    assert "404 Not Found" in message
    assert failed.status == "failed" and failed.error == message
    assert library.get(failed.id) is not None

    pipeline.fail_hosts.clear()  # the page exists now
    job = service.retry(failed)
    wait_until(qtbot, lambda: rec.of("done"), what="retry done")
    (done_job, capture), = rec.of("done")
    assert done_job == job and capture.status == "ready" and capture.url == failed.url
    assert pipeline.calls[-1][1:] == (False, failed.id)  # no cache, replaces the failed row
    assert replaced == [failed.id]
    assert library.get(failed.id) is None
    assert capture.blob_path is not None and capture.blob_path.is_file()


def test_raising_concurrency_starts_waiting_jobs(qtbot, qloop, tasks: TaskRegistry, library: Library) -> None:
    pipeline = FakePipeline(library)
    pipeline.gate = asyncio.Event()
    service = CaptureService(pipeline, tasks, concurrency=1)
    for i in range(3):
        service.submit(CaptureSpec(f"https://s{i}.example/"))
    assert service.running == 1
    service.set_concurrency(3)
    assert service.running == 3
    pipeline.gate.set()
    wait_until(qtbot, service.is_idle)


def test_cancel_right_after_a_job_gets_its_slot_frees_the_slot(qtbot, qloop, tasks: TaskRegistry,
                                                                library: Library) -> None:
    """Cancelled before its task ever ran: still reported cancelled, and the queue moves on."""
    pipeline = FakePipeline(library)
    service = CaptureService(pipeline, tasks, concurrency=1)
    rec = Recorder(service)
    first = service.submit(CaptureSpec("https://a.example/"))  # gets the slot at once
    assert service.running == 1
    assert service.cancel(first)  # same loop turn: its coroutine has not started
    second = service.submit(CaptureSpec("https://b.example/"))
    wait_until(qtbot, service.is_idle, what="queue empty")
    assert rec.of("cancelled") == [first]
    assert [j for j, _ in rec.of("done")] == [second]
    assert library.count() == 1
