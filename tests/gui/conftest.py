"""GUI test fixtures.

``qloop`` — the qasync fixture
------------------------------
pytest-qt has no asyncio support (pytest-qt #448). The fixture builds one ``qasync.QEventLoop``
over pytest-qt's ``qapp`` in qasync's ``already_running=True`` mode: the loop counts as running
from the start, and its callbacks are Qt timers and signals, so *any* Qt event processing —
``qtbot.waitUntil``, ``qtbot.waitSignal``, ``waitExposed`` — also advances asyncio tasks, with the
qasync loop set as the running loop, exactly as inside ``run_until_complete`` in the window.

Why not ``loop.run_until_complete(coro)`` in tests: pytest-qt's own waits process Qt events
*outside* it, and a task stepped there finds no running loop (``asyncio.to_thread`` raises
"no running event loop"). So tests drive coroutines with :func:`run` (spawn + wait until done,
bounded) and wait for conditions with :func:`wait_until` (``qtbot.waitUntil`` with a message).

At teardown the fixture cancels what is left, lets the cancellations run, stops and closes the
loop, so no task or timer leaks into the next test.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import keyring
import pytest
from PySide6.QtWidgets import QApplication

from shotdesk.capture.base import CaptureResult
from shotdesk.core.errors import PageLoadError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services import secrets
from shotdesk.services.tasks import TaskRegistry
from tests.helpers.images import make_image
from tests.keys.conftest import ENV_NAMES, MemoryKeyring


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def qloop(qapp: QApplication, qtbot: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the test QApplication (see the module docstring)."""
    import qasync  # after PySide6 (ENGINE-NOTES.md)

    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=10_000)
        # Not loop.stop(): it calls QApplication.exit(), which leaves Qt's "quit now" flag set, and
        # every later QEventLoop (qtbot.wait) would then return at once. Mark it stopped instead.
        loop._QEventLoop__is_running = False
        loop.close()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


@pytest.fixture
def tasks(qloop: asyncio.AbstractEventLoop, qtbot: Any) -> Iterator[TaskRegistry]:
    registry = TaskRegistry(qloop)
    errors: list[BaseException] = []
    registry.set_error_handler(lambda name, exc: errors.append(exc))
    yield registry
    run(qtbot, registry.cancel_all())
    assert not errors, f"a background task failed: {errors[0]!r}"


T = TypeVar("T")


def run(qtbot: Any, coro: Coroutine[Any, Any, T], *, timeout_s: float = 30.0) -> T:
    """Run ``coro`` on the qasync loop while Qt processes events; return its result."""
    loop = asyncio.get_event_loop()
    task = loop.create_task(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout_s * 1000))
    return task.result()


def wait_until(qtbot: Any, condition: Callable[[], Any], *, timeout_s: float = 20.0, what: str = "") -> None:
    """Process Qt events (and so asyncio callbacks) until ``condition()`` is true, or fail."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what or condition}")
        qtbot.wait(20)


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


@dataclass(frozen=True)
class Info:
    """Shape of registry.ProviderInfo for window tests that do not need the real registry."""

    id: str
    label: str
    needs_key: bool = False
    default_base_url: str | None = None
    capabilities: Any = None


def fake_providers() -> list[Info]:
    from shotdesk.capture.base import Capabilities

    return [
        Info("local", "Local engine", capabilities=Capabilities()),
        Info("snapsharp", "SnapSharp", needs_key=True, default_base_url="https://api.snapsharp.dev",
             capabilities=Capabilities(formats=frozenset({"png", "jpeg", "webp"}),
                                       options=frozenset({"full_page", "dark_mode", "block_ads", "delay_ms",
                                                          "selector", "css", "js", "user_agent", "scale"}),
                                       needs_key=True,
                                       notes={"hide_cookie_banners":
                                              "SnapSharp has no cookie-banner option"})),
    ]


@pytest.fixture
def prefs(tmp_path: Path) -> Any:
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "xdg" / "config" / "window-test.ini"), QSettings.Format.IniFormat)


def make_window(pipeline: Any, tasks: TaskRegistry, prefs: Any, providers: Any = None,
                settings: Any = None) -> Any:
    from shotdesk.core.settings import Settings
    from shotdesk.ui.main_window import MainWindow, WindowContext

    ctx = WindowContext(pipeline=pipeline, settings=settings or Settings(),
                        providers=providers or fake_providers(), tasks=tasks, prefs=prefs)
    return MainWindow(ctx)


@pytest.fixture
def window(qtbot: Any, qloop: Any, tasks: TaskRegistry, library: Library, prefs: Any) -> Iterator[Any]:
    """A shown window over :class:`FakePipeline`; shut down (compare windows closed) afterwards.

    Not ``qtbot.addWidget``: pytest-qt closes and deletes registered widgets before fixtures are
    torn down, which would delete the window while its shutdown coroutine is still running."""
    win = make_window(FakePipeline(library), tasks, prefs)
    win.show()
    yield win
    for dialog in win._open_compare_dialogs():
        dialog.close()
    if not win._closed:
        win.close()
        wait_until(qtbot, lambda: win._closed, what="shutdown")
    win.deleteLater()


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """An in-memory keyring behind the real wrapper; no key leaks in from the environment."""
    for name in list(os.environ):
        if name in ENV_NAMES or (name.startswith("SHOTDESK_") and name.endswith("_KEY")):
            monkeypatch.delenv(name)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    secrets.forget_session()
    yield backend
    secrets.forget_session()
    keyring.set_keyring(previous)
