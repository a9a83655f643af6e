"""Review: a custom service redirecting to an address ShotDesk will not use is a bad response."""

from __future__ import annotations

import asyncio

from aiohttp import web

from shotdesk.capture.http import RateLimiter, RetryPolicy
from shotdesk.capture.providers.custom import CustomProvider
from shotdesk.core.errors import BadResponse, CaptureError
from shotdesk.core.spec import CaptureSpec
from tests.http.server import RecordingSleep, ScriptedServer

KEY = "custom-review-KEY-77aa88bb"


def test_redirect_to_plain_http_elsewhere_is_a_bad_response_without_the_key() -> None:
    sleep = RecordingSleep()

    async def main() -> CaptureError | None:
        async with ScriptedServer() as srv:
            async def redirect(request: web.Request) -> web.Response:
                raise web.HTTPFound(f"http://shots.example.com/picture.png?token={KEY}")

            srv.route("GET", "/shot", redirect)
            p = CustomProvider(template={"template": f"GET {srv.base_url}/shot?u={{url}}",
                                         "auth_header": "X-Key"}, api_key=KEY,
                               policy=RetryPolicy(sleep=sleep, clock=sleep.clock, random=lambda: 0.5),
                               limiter=RateLimiter(probe_first=False, sleep=sleep, clock=sleep.clock))
            try:
                await p.capture(CaptureSpec(url="https://example.org/", provider="custom"))
            except CaptureError as exc:
                return exc
            finally:
                await p.aclose()
            return None

    error = asyncio.run(main())
    assert isinstance(error, BadResponse)
    assert "redirected" in error.message
    assert KEY not in str(error)
