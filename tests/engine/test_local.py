"""The ``local`` provider end to end: EngineManager starts the engine process, JobApiProvider talks
to it; a killed engine gives a clear EngineCrashed and the next capture runs on a new engine."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from shotdesk.capture.base import Provider
from shotdesk.capture.engine.manager import EngineManager
from shotdesk.capture.local import LocalProvider
from shotdesk.core.errors import EngineCrashed, PageLoadError
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import open_image
from tests.helpers.webserver import PageServer, Response

pytestmark = pytest.mark.engine

PAGE = """<!doctype html><html><head><title>Local page</title><style>
html, body { margin: 0; background: rgb(250, 250, 250); }
@media (prefers-color-scheme: dark) { html, body { background: rgb(20, 20, 20); } }
#box { position: absolute; left: 10px; top: 10px; width: 50px; height: 50px; background: rgb(0, 128, 255); }
</style></head><body><div id="box"></div></body></html>"""


def px(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = image.convert("RGB").getpixel((x, y))  # type: ignore[misc]
    return (r, g, b)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module: the provider's clients and processes belong to it."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def provider(loop: asyncio.AbstractEventLoop) -> Iterator[LocalProvider]:
    local = LocalProvider(EngineManager(pool_size=1), pool_size=1)
    try:
        yield local
    finally:
        loop.run_until_complete(local.aclose())
        loop.run_until_complete(local.engine.aclose())


def test_local_provider_captures_through_the_engine_process(loop, provider: LocalProvider,
                                                            page_server: PageServer):
    assert isinstance(provider, Provider)
    url = page_server.add_page("/page", PAGE)
    seen: list[tuple[float | None, str]] = []
    result = loop.run_until_complete(provider.capture(CaptureSpec(url, width=640, height=480),
                                                      lambda f, t: seen.append((f, t))))
    assert result.provider == "local"
    assert (result.width, result.height, result.media_type) == (640, 480, "image/png")
    assert result.title == "Local page" and result.final_url == url
    assert int(result.metadata["render_ms"]) > 0
    image = open_image(result.data)
    assert px(image, 30, 30) == (0, 128, 255) and px(image, 300, 300) == (250, 250, 250)
    assert seen[0] == (None, "Starting the local engine")
    fractions = [f for f, _ in seen if f is not None]
    assert fractions and all(0 <= f <= 1 for f in fractions)
    assert provider.engine.is_running(False) and not provider.engine.is_running(True)


def test_dark_mode_runs_in_a_second_engine_process(loop, provider: LocalProvider, page_server: PageServer):
    url = page_server.add_page("/page", PAGE)
    dark = loop.run_until_complete(provider.capture(CaptureSpec(url, width=640, height=480, dark_mode=True)))
    assert px(open_image(dark.data), 300, 300) == (20, 20, 20)
    assert provider.engine.pid(True) not in (None, provider.engine.pid(False))
    light = loop.run_until_complete(provider.capture(CaptureSpec(url, width=640, height=480)))
    assert px(open_image(light.data), 300, 300) == (250, 250, 250)
    loop.run_until_complete(provider.engine.stop(True))  # free its memory for the other tests


def test_page_errors_arrive_typed_with_the_engine_message(loop, provider: LocalProvider,
                                                          page_server: PageServer):
    with pytest.raises(PageLoadError) as info:
        loop.run_until_complete(provider.capture(CaptureSpec(page_server.url("/missing"))))
    assert info.value.message == "The page answered 404 Not Found"
    assert info.value.hint


def test_engine_killed_mid_job_is_a_clear_error_and_the_next_capture_works(loop, provider: LocalProvider,
                                                                          page_server: PageServer):
    ok_url = page_server.add_page("/page", PAGE)
    loop.run_until_complete(provider.capture(CaptureSpec(ok_url, width=640, height=480)))  # engine warm
    old_pid = provider.engine.pid(False)
    assert old_pid is not None
    page_server.routes["/hang"] = Response(body=PAGE.encode(), delay_s=5)
    hang_url = page_server.url("/hang")

    async def kill_mid_job() -> None:
        task = asyncio.ensure_future(provider.capture(CaptureSpec(hang_url, width=640, height=480)))
        for _ in range(400):  # ≤ 20 s for the engine to ask for the page
            if page_server.hits("/hang") or task.done():
                break
            await asyncio.sleep(0.05)
        assert page_server.hits("/hang") == 1, "the engine never asked for the page"
        os.kill(old_pid, signal.SIGKILL)
        await task

    started = time.monotonic()
    with pytest.raises(EngineCrashed) as info:
        loop.run_until_complete(kill_mid_job())
    assert str(info.value.message) == f"The local engine stopped while capturing {hang_url}"
    assert "capture again" in info.value.hint
    assert time.monotonic() - started < 15  # reported promptly, not after the job's timeout

    again = loop.run_until_complete(provider.capture(CaptureSpec(ok_url, width=640, height=480)))
    assert (again.width, again.height) == (640, 480)
    new_pid = provider.engine.pid(False)
    assert new_pid is not None and new_pid != old_pid
