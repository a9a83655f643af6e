"""Review: a key placed where no parameter name gives it away never reaches a log line."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from shotdesk.capture.http import RateLimiter, RetryPolicy
from shotdesk.capture.providers.custom import CustomProvider
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import make_image
from tests.http.server import RecordingSleep, ScriptedServer

KEY = "Zq7-review-KEY-0c1d2e3f4a5b"


@pytest.mark.parametrize("template", [
    "GET {base}/shot?k={{api_key}}&u={{url}}",       # a query name that does not look like a key
    "GET {base}/u/{{api_key}}/shot?u={{url}}",       # the key in the path
])
def test_custom_template_key_is_masked_in_every_log_line(template: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    sleep = RecordingSleep()

    async def main() -> int:
        async with ScriptedServer() as srv:
            async def picture(request: web.Request) -> web.Response:
                return web.Response(body=make_image(40, 30), content_type="image/png")

            srv.route("GET", "/shot", picture)
            srv.route("GET", f"/u/{KEY}/shot", picture)
            p = CustomProvider(template=template.format(base=srv.base_url), api_key=KEY,
                               policy=RetryPolicy(sleep=sleep, clock=sleep.clock, random=lambda: 0.5),
                               limiter=RateLimiter(probe_first=False, sleep=sleep, clock=sleep.clock))
            try:
                result = await p.capture(CaptureSpec(url="https://example.org/", provider="custom"))
            finally:
                await p.aclose()
            return result.width

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(main()) == 40
    client_side = [r for r in caplog.records if not r.name.startswith("aiohttp")]  # not the test server
    assert any(r.name == "httpx" and "HTTP Request: GET" in r.getMessage() for r in client_side)
    assert all(KEY not in r.getMessage() for r in client_side)


def test_redact_text_masks_a_key_also_percent_encoded() -> None:
    from urllib.parse import quote

    from shotdesk.capture.http import redact_text

    key = "ab/cd+ef=gh"
    text = f"GET https://x.example/u/{quote(key, safe='')}/shot failed for {key}"
    out = redact_text(text, (key,))
    assert key not in out and quote(key, safe="") not in out
    assert out.count("***") == 2
