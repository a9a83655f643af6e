"""The capture pipeline with real parts: the thumb adapter over HTTP on 127.0.0.1, a real library."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image, ImageDraw

from shotdesk.capture.registry import ProviderRegistry
from shotdesk.core.errors import BadResponse, Unsupported
from shotdesk.core.library import Library
from shotdesk.core.settings import Settings
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.pipeline import CapturePipeline
from tests.helpers.webserver import PageServer, Request, Response


def _png(blank: bool) -> bytes:
    img = Image.new("RGB", (640, 480), (255, 255, 255))
    if not blank:
        draw = ImageDraw.Draw(img)
        draw.rectangle((40, 40, 400, 300), fill=(20, 90, 200))
        draw.rectangle((100, 350, 600, 460), fill=(220, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _pipeline(server: PageServer) -> CapturePipeline:
    settings = Settings(provider_base_urls={"thumb": server.base_url})
    return CapturePipeline(Library(), ProviderRegistry(settings), ttl_s=3600)


def _serve(server: PageServer, *bodies: bytes) -> None:
    answers = list(bodies)

    def thumb(_req: Request) -> Response:
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        return Response(200, body, content_type="image/png", headers={"X-Cache": "MISS"})

    server.routes["/thumb"] = thumb


async def _capture(pipeline: CapturePipeline, spec: CaptureSpec, **kw):
    try:
        return await pipeline.capture(spec, **kw)
    finally:
        await pipeline.aclose()


def test_blank_capture_is_retried_once_and_stored_flagged(page_server: PageServer):
    _serve(page_server, _png(blank=True), _png(blank=False))
    spec = CaptureSpec("https://example.com", provider="thumb", width=640, height=480)
    outcome = asyncio.run(_capture(_pipeline(page_server), spec))
    assert page_server.hits("/thumb") == 2
    cap = outcome.capture
    assert cap.flags == ("retried",) and cap.status == "ready"
    assert cap.blob_path is not None and cap.blob_path.read_bytes() == _png(blank=False)
    assert cap.key == spec.cache_key()  # stored under what the user asked for


def test_still_blank_after_retry_says_so(page_server: PageServer):
    _serve(page_server, _png(blank=True))
    spec = CaptureSpec("https://example.com", provider="thumb", width=640, height=480)
    outcome = asyncio.run(_capture(_pipeline(page_server), spec))
    assert page_server.hits("/thumb") == 2  # once more, not forever
    assert outcome.capture.flags == ("retried", "blank")


def test_fresh_copy_is_served_without_a_request(page_server: PageServer):
    _serve(page_server, _png(blank=False))
    spec = CaptureSpec("https://example.com", provider="thumb", width=640, height=480)
    first = asyncio.run(_capture(_pipeline(page_server), spec))
    second = asyncio.run(_capture(_pipeline(page_server), spec))
    assert (first.cached, second.cached) == (False, True)
    assert second.capture.id == first.capture.id and page_server.hits("/thumb") == 1
    third = asyncio.run(_capture(_pipeline(page_server), spec, use_cache=False))
    assert third.cached is False and third.capture.version == 2 and page_server.hits("/thumb") == 2


def test_failure_is_recorded_for_the_window_and_retry_replaces_it(page_server: PageServer):
    page_server.routes["/thumb"] = Response(200, b"<!doctype html><p>login", content_type="text/html")
    spec = CaptureSpec("https://example.com", provider="thumb", width=640, height=480)
    with pytest.raises(BadResponse, match="instead of an image"):
        asyncio.run(_capture(_pipeline(page_server), spec, record_failure=True))
    library = Library()
    failed = library.list(status="failed")
    assert len(failed) == 1 and "instead of an image" in (failed[0].error or "")
    assert library.list(status="ready") == []
    library.close()

    _serve(page_server, _png(blank=False))
    outcome = asyncio.run(_capture(_pipeline(page_server), spec, replaces=failed[0].id))
    library = Library()
    assert [c.id for c in library.list()] == [outcome.capture.id]  # the failed tile is gone
    library.close()


def test_unsupported_option_is_refused_before_any_request(page_server: PageServer):
    _serve(page_server, _png(blank=False))
    spec = CaptureSpec("https://example.com", provider="thumb", dark_mode=True)
    with pytest.raises(Unsupported, match="dark-mode"):
        asyncio.run(_capture(_pipeline(page_server), spec))
    assert page_server.hits("/thumb") == 0
