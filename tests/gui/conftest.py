"""GUI test fixtures.

``qloop`` — the qasync fixture
------------------------------
pytest-qt has no asyncio support (pytest-qt #448), and qasync's loop only runs asyncio callbacks
while it is *running*. So a test builds one ``qasync.QEventLoop`` over pytest-qt's ``qapp``,
makes it the current loop, and drives async work with ``qloop.run_until_complete(coro)``; inside
that call Qt events and asyncio callbacks are processed together, exactly as in the window (where
``run_window`` makes the one ``run_until_complete(app_close.wait())`` call). Between those calls
nothing asynchronous advances, so a test writes its waits as coroutines::

    def test_x(qloop, ...):
        job = service.submit(spec)                     # schedules a task on qloop
        qloop.run_until_complete(until(lambda: done))  # runs Qt + asyncio until true (bounded)

:func:`until` polls a condition with a bounded deadline and fails the test with a message when it
never holds. At teardown the fixture cancels what is left (the ``TaskRegistry``) and closes the
loop, so no task or timer leaks into the next test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from shotdesk.capture.base import CaptureResult
from shotdesk.core.errors import PageLoadError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.tasks import TaskRegistry
from tests.helpers.images import make_image


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the test QApplication (see the module docstring)."""
    import qasync  # after PySide6 (ENGINE-NOTES.md)

    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def tasks(qloop: asyncio.AbstractEventLoop) -> Iterator[TaskRegistry]:
    registry = TaskRegistry(qloop)
    errors: list[BaseException] = []
    registry.set_error_handler(lambda name, exc: errors.append(exc))
    yield registry
    qloop.run_until_complete(registry.cancel_all())
    assert not errors, f"a background task failed: {errors[0]!r}"


async def until(condition: Callable[[], Any], *, timeout_s: float = 20.0, what: str = "") -> None:
    """Let the loop run until ``condition()`` is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what or condition}")
        await asyncio.sleep(0.02)


@pytest.fixture
def library() -> Iterator[Library]:
    lib = Library()  # the isolated XDG folders (tests/conftest.py)
    yield lib
    lib.close()


COLOURS = [(200, 30, 30), (30, 160, 60), (40, 80, 200), (230, 180, 20), (120, 40, 160)]


def add_capture(library: Library, url: str, *, provider: str = "local", fmt: str = "png",
                width: int = 1280, height: int = 720, title: str | None = None,
                color: tuple[int, int, int] = (200, 30, 30)) -> Capture:
    """A ready gallery row with a real (small) image and thumbnail."""
    spec = CaptureSpec(url=url, provider=provider, width=width, height=height, format=fmt)
    pil = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    data = make_image(160, 90, color, pil)
    result = CaptureResult(data, spec.media_type, 160, 90, provider, {"render_ms": "5"}, spec.url,
                           title or f"Page {url}")
    return library.add(spec, result, elapsed_ms=5)


def fill(library: Library, n: int, *, prefix: str = "https://site{i}.example/page") -> list[Capture]:
    return [add_capture(library, prefix.format(i=i), color=COLOURS[i % len(COLOURS)],
                        provider="local" if i % 3 else "snapsharp", fmt="png" if i % 2 else "jpeg")
            for i in range(n)]


@dataclass(frozen=True)
class FakeOutcome:  # the shape of pipeline.CaptureOutcome
    capture: Capture
    cached: bool
    elapsed_ms: int


class FakePipeline:
    """A stand-in for CapturePipeline for queue/model tests that do not need a browser.

    It stores real images in the real Library; URLs containing "fail" raise PageLoadError, and
    every capture waits for ``gate`` (an asyncio.Event) when one is set, so a test can hold jobs.
    """

    def __init__(self, library: Library) -> None:
        self.library = library
        self.calls: list[tuple[CaptureSpec, bool, int | None]] = []
        self.gate: asyncio.Event | None = None
        self.fail_hosts: set[str] = set()
        self.running = 0
        self.max_running = 0

    async def capture(self, spec: CaptureSpec, *, use_cache: bool = True, progress: Any = None,
                      record_failure: bool = False, replaces: int | None = None) -> Any:
        self.calls.append((spec, use_cache, replaces))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if progress:
                progress(0.1, "Loading the page")
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0.01)
            if "fail" in spec.url or any(h in spec.url for h in self.fail_hosts):
                raise PageLoadError(f"The page {spec.url} answered 404 Not Found",
                                    hint="check the address")
            data = make_image(160, 90, (30, 160, 60))
            result = CaptureResult(data, "image/png", 160, 90, spec.provider, {}, spec.url, "Fake")
            capture = await asyncio.to_thread(self.library.add, spec, result, elapsed_ms=10)
            if replaces is not None:
                await asyncio.to_thread(self.library.delete, replaces)
            return FakeOutcome(capture, cached=False, elapsed_ms=10)
        finally:
            self.running -= 1

    async def aclose(self) -> None:
        pass


def file_exists(path: Path | None) -> bool:
    return path is not None and path.is_file()
