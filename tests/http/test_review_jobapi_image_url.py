"""Review: a job server's unusable picture address is a bad response, not a settings error."""

from __future__ import annotations

import asyncio

import pytest

from shotdesk.capture.http import RateLimiter, RetryPolicy
from shotdesk.capture.providers.jobapi import JobApiProvider
from shotdesk.core.errors import BadResponse
from shotdesk.core.spec import CaptureSpec
from tests.http.jobserver import JobServer
from tests.http.server import RecordingSleep

TOKEN = "jobapi-TOKEN-review-9f8e7d"


@pytest.mark.parametrize("image_url", [
    "http://pictures.example.com/1.png",      # plain http to another computer
    "ftp://pictures.example.com/1.png",       # not http at all
])
def test_unusable_image_url_is_a_bad_response_naming_the_server(image_url: str) -> None:
    sleep = RecordingSleep()

    async def main() -> BadResponse:
        async with JobServer(token=TOKEN) as srv:
            srv.image_url = lambda job_id: image_url
            p = JobApiProvider(base_url=srv.base_url, api_key=TOKEN, sleep=sleep, clock=sleep.clock,
                               policy=RetryPolicy(sleep=sleep, clock=sleep.clock, random=lambda: 0.5),
                               limiter=RateLimiter(probe_first=False, sleep=sleep, clock=sleep.clock))
            try:
                with pytest.raises(BadResponse) as info:
                    await p.capture(CaptureSpec(url="https://example.org/page", provider="jobapi"))
            finally:
                await p.aclose()
            return info.value

    error = asyncio.run(main())
    assert "picture" in error.message
    assert TOKEN not in str(error)
