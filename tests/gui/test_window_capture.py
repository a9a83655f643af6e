"""The window through the real capture path: CapturePipeline → registry → local QtWebEngine engine
(its own process) → Library. A loopback page server serves the pages.

Slow (the engine process starts once per test): marked ``engine`` as well as ``gui``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from shotdesk.core.library import Library
from shotdesk.core.settings import Settings
from shotdesk.ui.gallery_model import Role
from tests.gui.conftest import make_window, wait_until
from tests.helpers.webserver import PageServer

pytestmark = [pytest.mark.engine, pytest.mark.timeout(300)]

GREEN_PAGE = """<!doctype html><html><head><title>Green test page</title>
<style>html,body{margin:0;height:100%;background:#1e8c4c}</style></head><body></body></html>"""


@pytest.fixture
def real_window(qtbot, qloop, tasks, prefs) -> Iterator[Any]:
    from shotdesk.capture.registry import provider_infos
    from shotdesk.services.pipeline import CapturePipeline

    settings = Settings(cache_ttl_s=0, engine_pool_size=1)
    pipeline = CapturePipeline.open_default(settings)
    win = make_window(pipeline, tasks, prefs, providers=provider_infos(), settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    if not win._closed:
        win.close()  # cancels the queue, closes the pipeline: the engine process stops
        wait_until(qtbot, lambda: win._closed, timeout_s=60, what="shutdown")


def rows(win: Any) -> list[Any]:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def test_enter_on_a_loopback_address_gives_tile_file_and_index_row(qtbot, real_window,
                                                                     page_server: PageServer) -> None:
    url = page_server.add_page("/green", GREEN_PAGE)
    win = real_window
    win.capture_bar.set_provider("local")
    qtbot.keyClicks(win.capture_bar.url_edit, url)
    qtbot.keyClick(win.capture_bar.url_edit, Qt.Key.Key_Return)
    wait_until(qtbot, lambda: rows(win) and rows(win)[0].data(Role.STATUS) in ("ready", "failed"),
               timeout_s=180, what="the capture")
    index = rows(win)[0]
    assert index.data(Role.STATUS) == "ready", index.data(Role.ERROR)
    capture = index.data(Role.CAPTURE)
    # A file on disk: a 1280×720 PNG of the green page.
    assert capture.blob_path.is_file()
    with Image.open(capture.blob_path) as img:
        assert img.format == "PNG" and img.size == (1280, 720)
        assert img.convert("RGB").getpixel((640, 360)) == pytest.approx((30, 140, 76), abs=3)
    # An index row, seen through a second connection to the same SQLite file.
    other = Library()
    try:
        row = other.get(capture.id)
        assert row is not None and row.status == "ready" and row.url == url
        assert row.title == "Green test page"
    finally:
        other.close()
    assert page_server.hits("/green") >= 1
    # The tile paints its thumbnail.
    win.view.viewport().repaint()
    wait_until(qtbot, lambda: win.thumbnails.cache_bytes > 0, what="the thumbnail")
    tile = win.view.visualRect(index)
    shot = win.view.viewport().grab(tile).toImage()
    centre = win.delegate.thumb_rect(tile.translated(-tile.topLeft())).center()
    colour = shot.pixelColor(centre.x() * shot.width() // tile.width(),
                             centre.y() * shot.height() // tile.height())
    assert (colour.red(), colour.green(), colour.blue()) == pytest.approx((30, 140, 76), abs=8)


def test_a_404_shows_its_error_on_the_tile_and_retry_works_once_the_page_exists(
        qtbot, real_window, page_server: PageServer) -> None:
    win = real_window
    url = page_server.url("/later")  # not there yet: the server answers 404
    win.capture_bar.set_provider("local")
    win.capture_bar.url_edit.setText(url)
    win.capture_bar.request_capture()
    wait_until(qtbot, lambda: rows(win) and rows(win)[0].data(Role.STATUS) in ("ready", "failed"),
               timeout_s=180, what="the failure")
    index = rows(win)[0]
    assert index.data(Role.STATUS) == "failed"
    message = index.data(Role.ERROR)
    assert "404" in message, message
    failed_id = index.data(Role.ID)

    page_server.add_page("/later", GREEN_PAGE)
    rect = win.view.visualRect(index)
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=win.delegate.button_rect(rect, "retry").center())
    wait_until(qtbot, lambda: rows(win) and rows(win)[0].data(Role.STATUS) == "ready"
               and rows(win)[0].data(Role.ID) != failed_id, timeout_s=120, what="the retry")
    assert win.proxy.rowCount() == 1  # the failed tile was replaced
    assert win.model.library.get(failed_id) is None
