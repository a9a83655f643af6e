"""Every hosted provider, plus jobapi and thumb, captures from the window through its loopback server.

The real path: MainWindow → CaptureService → CapturePipeline → ProviderRegistry (base URL from
``Settings.provider_base_urls``, key from the keyring wrapper over an in-memory keyring) → the
adapter's httpx client → the provider's contract fake on 127.0.0.1 → Library. The user picks the
provider in the picker, types an address and presses Enter; the test then checks what a user (and
the provider) would see: a ready tile, a file holding the picture the fake rendered, an index row
naming the provider, exactly the request the contract asks for — and the recognisable key in no
file under the isolated user folders and in no log record.

The fakes' renders are monkeypatched to pictures with a band of a second colour, so the
pipeline's blank-page check does not retry (a one-colour picture counts as blank, and the retry
would send a second, more patient request).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from shotdesk.core.library import Library
from shotdesk.core.settings import Settings
from shotdesk.ui.gallery_model import Role
from tests.contract import fakes
from tests.contract.fakes import (
    KEY,
    ApiFlashFake,
    FakeApi,
    HermesFake,
    ScreenshotOneFake,
    SnapApiFake,
    SnapSharpFake,
    UrlboxFake,
)
from tests.gui.conftest import make_window, wait_until
from tests.helpers.webserver import PageServer, Request, Response
from tests.http.jobserver import JobServer

pytestmark = [pytest.mark.timeout(120)]

#: The page the providers are asked to capture (never fetched: the fakes render it).
TARGET = "https://example.com/pricing"
#: The window's default capture options (CaptureOptionsPanel): 1280×720 PNG at 1×.
W, H = 1280, 720


# ---------------------------------------------------------------------------------- what was served
@dataclass
class Served:
    fmt: str
    width: int
    height: int
    body: bytes


def page_like(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A picture that is not one colour: a dark header band over a blue page."""
    img = Image.new("RGB", (width, height), (30, 120, 200))
    img.paste((20, 20, 20), (0, 0, width, max(1, height // 8)))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Served]:
    """Every picture the contract fakes render, recorded (and not one colour, see module doc)."""
    record: list[Served] = []
    original = fakes.render

    def render(fmt: str, width: int, height: int, color: tuple[int, int, int] = (30, 120, 200)) -> Response:
        if fmt not in ("png", "jpeg", "jpg", "webp"):
            return original(fmt, width, height, color)
        pil = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}[fmt]
        body = page_like(width, height, pil)
        record.append(Served(fmt, width, height, body))
        return Response(200, body, content_type=f"image/{'jpeg' if fmt == 'jpg' else fmt}")

    monkeypatch.setattr(fakes, "render", render)
    return record


# ---------------------------------------------------------------------------------- servers
class ThumbFake:
    """``GET /thumb?url=&w=&h=`` (PROVIDERS.md §7 thumbnail pattern) on a PageServer; Bearer key."""

    def __init__(self, server: PageServer, key: str = KEY) -> None:
        self.server = server
        self.key = key
        self.received: list[Request] = []
        server.routes["/thumb"] = self._thumb

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def _thumb(self, req: Request) -> Response:
        from urllib.parse import parse_qs, urlsplit

        self.received.append(req)
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return Response(401, b'{"detail": "Not authenticated"}', content_type="application/json")
        query = {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}
        body = fakes.render("png", int(query["w"]), int(query["h"])).body
        return Response(200, body, headers={"X-Cache": "MISS"}, content_type="image/png")


class ThreadedJobServer:
    """tests/http/jobserver.JobServer (aiohttp) on its own event loop in a background thread, so
    the job API answers independently of the window's qasync loop."""

    def __init__(self, **kw: Any) -> None:
        self.server = JobServer(**kw)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="JobServer", daemon=True)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> ThreadedJobServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.__aenter__(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            stop = self.server.__aexit__(None, None, None)
            asyncio.run_coroutine_threadsafe(stop, self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


# ---------------------------------------------------------------------------------- expected requests
def _bearer(headers: dict[str, str]) -> None:
    assert headers.get("authorization") == f"Bearer {KEY}"


def _one(fake: FakeApi, route: str) -> fakes.Received:
    assert [r.route for r in fake.received] == [route], [r.route for r in fake.received]
    return fake.received[0]


def expect_snapsharp(fake: FakeApi) -> None:
    rec = _one(fake, "/v1/screenshot")
    assert rec.method == "GET"
    _bearer(rec.headers)
    assert fake.query_params(rec) == {
        "url": TARGET, "width": str(W), "height": str(H), "format": "png", "full_page": "false",
        "retina": "false", "delay": "0", "wait_until": "load", "dark_mode": "false",
        "block_ads": "false", "block_cookie_banners": "false",
    }


def expect_screenshotone(fake: FakeApi) -> None:
    rec = _one(fake, "/take")
    assert rec.method == "GET" and "authorization" not in rec.headers
    assert fake.query_params(rec) == {
        "access_key": KEY, "url": TARGET, "format": "png", "viewport_width": str(W),
        "viewport_height": str(H), "device_scale_factor": "1", "full_page": "false", "delay": "0",
        "timeout": "30", "wait_until": "load", "dark_mode": "false", "block_ads": "false",
        "block_cookie_banners": "false", "response_type": "by_format", "cache": "false",
    }


def expect_urlbox(fake: FakeApi) -> None:
    routes = [r.route for r in fake.received]
    # render → the JSON's renderUrl → its redirect to storage (followed).
    assert len(routes) == 3 and routes[0] == "/v1/render/sync", routes
    assert routes[1].startswith("/renders/") and routes[1].endswith(".png"), routes
    assert routes[2] == routes[1].replace("/renders/", "/storage/"), routes
    rec = fake.received[0]
    assert rec.method == "POST"
    _bearer(rec.headers)
    assert rec.json == {
        "url": TARGET, "format": "png", "width": W, "height": H, "full_page": False,
        "retina": False, "wait_until": "loaded", "timeout": 30_000, "dark_mode": False,
        "block_ads": False, "hide_cookie_banners": False, "force": True, "fail_on_4xx": True,
        "fail_on_5xx": True, "response_type": "json",
    }
    for download in fake.received[1:]:  # the storage link is not the API: no key goes there
        assert "authorization" not in download.headers and KEY not in download.route


def expect_apiflash(fake: FakeApi) -> None:
    rec = _one(fake, "/v1/urltoimage")
    assert rec.method == "GET"
    assert fake.query_params(rec) == {
        "access_key": KEY, "url": TARGET, "format": "png", "width": str(W), "height": str(H),
        "full_page": "false", "scale_factor": "1", "delay": "0", "wait_until": "page_loaded",
        "no_ads": "false", "no_cookie_banners": "false", "fresh": "true", "response_type": "image",
    }


def expect_hermes(fake: FakeApi) -> None:
    rec = _one(fake, "/api/screenshot")
    assert rec.method == "GET" and rec.headers.get("x-api-key") == KEY
    assert fake.query_params(rec) == {"url": TARGET, "format": "png", "width": str(W), "height": str(H),
                                      "full_page": "false"}


def expect_snapapi(fake: FakeApi) -> None:
    rec = _one(fake, "/v1/screenshot")
    assert rec.method == "POST" and rec.headers.get("x-api-key") == KEY
    assert rec.json == {
        "url": TARGET, "format": "png", "width": W, "height": H, "deviceScaleFactor": 1.0,
        "fullPage": False, "delay": 0, "timeout": 30_000, "waitUntil": "load", "darkMode": False,
        "blockAds": False, "blockCookieBanners": False, "responseType": "binary", "failOnHttpError": True,
    }


HOSTED: dict[str, tuple[type[FakeApi], Callable[[FakeApi], None]]] = {
    "snapsharp": (SnapSharpFake, expect_snapsharp),
    "screenshotone": (ScreenshotOneFake, expect_screenshotone),
    "urlbox": (UrlboxFake, expect_urlbox),
    "apiflash": (ApiFlashFake, expect_apiflash),
    "hermes": (HermesFake, expect_hermes),
    "snapapi": (SnapApiFake, expect_snapapi),
}


# ---------------------------------------------------------------------------------- the window
def open_window(qtbot: Any, tasks: Any, prefs: Any, provider: str, base_url: str) -> Any:
    from shotdesk.capture.registry import provider_infos
    from shotdesk.services.pipeline import CapturePipeline

    settings = Settings(cache_ttl_s=0, provider_base_urls={provider: base_url})
    pipeline = CapturePipeline.open_default(settings)
    win = make_window(pipeline, tasks, prefs, providers=provider_infos(), settings=settings)
    qtbot.addWidget(win)
    win.show()
    return win


def close_window(qtbot: Any, win: Any) -> None:
    if not win._closed:
        win.close()  # cancels the queue, closes the pipeline (providers' clients, the library)
        wait_until(qtbot, lambda: win._closed, timeout_s=30, what="shutdown")


def rows(win: Any) -> list[Any]:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def capture_from_window(qtbot: Any, win: Any, provider: str) -> Any:
    """Pick ``provider`` in the picker, type the address, press Enter; the finished tile's index."""
    combo = win.capture_bar.provider_combo
    row = combo.findData(provider)
    assert row >= 0, f"{provider} is not in the provider picker"
    combo.setCurrentIndex(row)
    assert win.capture_bar.provider_id == provider
    wait_until(qtbot, lambda: "key stored" in combo.itemText(row) or not win.capture_bar._providers[
        provider].needs_key, what="the picker to show the stored key")
    win.capture_bar.url_edit.setFocus()
    qtbot.keyClicks(win.capture_bar.url_edit, TARGET)
    qtbot.keyClick(win.capture_bar.url_edit, Qt.Key.Key_Return)
    wait_until(qtbot, lambda: rows(win) and rows(win)[0].data(Role.STATUS) in ("ready", "failed"),
               timeout_s=60, what=f"the {provider} capture")
    index = rows(win)[0]
    assert index.data(Role.STATUS) == "ready", index.data(Role.ERROR)
    assert win.proxy.rowCount() == 1
    return index


def check_tile_file_and_row(index: Any, provider: str, picture: Served) -> None:
    capture = index.data(Role.CAPTURE)
    assert capture.provider == provider
    # The file on disk is the picture the provider served, at the size it rendered.
    assert capture.blob_path is not None and capture.blob_path.is_file()
    assert capture.blob_path.read_bytes() == picture.body
    with Image.open(capture.blob_path) as img:
        assert img.format == "PNG" and img.size == (picture.width, picture.height) == (W, H)
        assert img.convert("RGB").getpixel((W // 2, H // 2)) == (30, 120, 200)
    assert capture.thumb_path is not None and capture.thumb_path.is_file()
    # An index row, read through a second connection to the same SQLite file.
    other = Library()
    try:
        row = other.get(capture.id)
        assert row is not None
        assert (row.status, row.provider, row.url) == ("ready", provider, TARGET)
        assert (row.width, row.height, row.format) == (W, H, "png")
        assert KEY not in json.dumps(row.spec) + json.dumps(row.metadata)
    finally:
        other.close()


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def watch_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Record every INFO line, and DEBUG from ShotDesk and the HTTP libraries (which see URLs).

    Not DEBUG everywhere: qasync's executor logs each worker result at DEBUG ("Setting Future
    result: …"), the key read from the keyring included — see the report; the app never turns
    qasync's DEBUG on.
    """
    caplog.set_level(logging.INFO)
    for name in ("shotdesk", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)


def check_key_nowhere(isolated_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    files = [p for root in isolated_dirs.values() for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files), "the sweep found no capture file to search"
    for root in isolated_dirs.values():
        assert files_containing(root, KEY.encode()) == []
    leaked = [r.getMessage() for r in caplog.records if KEY in r.getMessage()]
    assert leaked == []


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("provider", sorted(HOSTED))
def test_hosted_provider_captures_from_the_window(provider, qtbot, qloop, tasks, prefs, page_server,
                                                  memory_keyring, served, isolated_dirs, caplog) -> None:
    watch_logs(caplog)
    fake_cls, expect_request = HOSTED[provider]
    fake = fake_cls(page_server)
    memory_keyring.entries[("ShotDesk", provider)] = KEY
    win = open_window(qtbot, tasks, prefs, provider, fake.base_url)
    try:
        index = capture_from_window(qtbot, win, provider)
        assert len(served) == 1
        check_tile_file_and_row(index, provider, served[0])
        expect_request(fake)
    finally:
        close_window(qtbot, win)
    check_key_nowhere(isolated_dirs, caplog)


def test_jobapi_captures_from_the_window(qtbot, qloop, tasks, prefs, memory_keyring, isolated_dirs,
                                         caplog) -> None:
    watch_logs(caplog)
    memory_keyring.entries[("ShotDesk", "jobapi")] = KEY
    with ThreadedJobServer(long_poll=True, token=KEY) as jobs:
        picture = Served("png", W, H, page_like(W, H))
        jobs.server.image = picture.body
        win = open_window(qtbot, tasks, prefs, "jobapi", jobs.base_url)
        try:
            index = capture_from_window(qtbot, win, "jobapi")
            check_tile_file_and_row(index, "jobapi", picture)
            seen = list(jobs.server.seen)
        finally:
            close_window(qtbot, win)
    # Seed contract only (a foreign job API): POST the seed fields, wait on the job, fetch the image.
    assert [(s.method, s.path) for s in seen] == [
        ("POST", "/screenshots"), ("GET", "/jobs/job-1"), ("GET", "/jobs/job-1/image")], seen
    assert all(s.headers.get("authorization") == f"Bearer {KEY}" for s in seen)
    assert json.loads(seen[0].body) == {"url": TARGET, "width": W, "height": H, "format": "png",
                                        "full_page": False, "block_ads": False, "dark_mode": False}
    assert "wait" in seen[1].query  # long-poll asked for
    check_key_nowhere(isolated_dirs, caplog)


def test_thumb_captures_from_the_window(qtbot, qloop, tasks, prefs, page_server, memory_keyring, served,
                                        isolated_dirs, caplog) -> None:
    watch_logs(caplog)
    memory_keyring.entries[("ShotDesk", "thumb")] = KEY
    fake = ThumbFake(page_server)
    win = open_window(qtbot, tasks, prefs, "thumb", fake.base_url)
    try:
        index = capture_from_window(qtbot, win, "thumb")
        assert len(served) == 1
        check_tile_file_and_row(index, "thumb", served[0])
        assert index.data(Role.CAPTURE).metadata.get("cache") == "MISS"
    finally:
        close_window(qtbot, win)
    assert len(fake.received) == 1
    req = fake.received[0]
    from urllib.parse import parse_qs, urlsplit

    assert req.method == "GET" and req.route == "/thumb"
    assert parse_qs(urlsplit(req.path).query) == {"url": [TARGET], "w": [str(W)], "h": [str(H)]}
    assert req.headers.get("authorization") == f"Bearer {KEY}"
    check_key_nowhere(isolated_dirs, caplog)
