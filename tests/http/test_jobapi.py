"""JobApiProvider against a real seed-contract job server on 127.0.0.1: happy paths and faults."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiohttp import web

from shotdesk.capture.http import RateLimiter, RetryPolicy, make_client
from shotdesk.capture.providers.jobapi import EXTENDED_FIELDS, SEED_FIELDS, JobApiProvider
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureTimeout,
    InvalidRequest,
    InvalidSpec,
    PageLoadError,
    ProviderUnavailable,
    SelectorNotFound,
    Unsupported,
)
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import make_image, open_image
from tests.http.jobserver import JobServer
from tests.http.server import RecordingSleep, ScriptedServer

TOKEN = "jobapi-TOKEN-5e4d3c2b1a"


def spec(**kw: Any) -> CaptureSpec:
    kw.setdefault("provider", "jobapi")
    return CaptureSpec(url="https://example.org/page", **kw)


def provider(server: JobServer, sleep: RecordingSleep | None = None, **kw: Any) -> JobApiProvider:
    sleep = sleep or RecordingSleep()
    kw.setdefault("policy", RetryPolicy(sleep=sleep, clock=sleep.clock, random=lambda: 0.5))
    kw.setdefault("limiter", RateLimiter(probe_first=False, sleep=sleep, clock=sleep.clock))
    return JobApiProvider(base_url=server.base_url, sleep=sleep, clock=sleep.clock, **kw)


async def capture_with(server: JobServer, the_spec: CaptureSpec, **kw: Any):
    p = provider(server, **kw)
    try:
        return await p.capture(the_spec)
    finally:
        await p.aclose()


def test_seed_capture_sends_only_seed_fields_and_returns_the_checked_picture():
    sleep = RecordingSleep()

    async def main():
        async with JobServer(token=TOKEN) as srv:
            result = await capture_with(srv, spec(width=800, height=600, full_page=True),
                                        api_key=TOKEN, sleep=sleep)
            return result, srv

    result, srv = asyncio.run(main())
    img = open_image(result.data)
    assert img.size == (64, 48) and img.getpixel((10, 10)) == (20, 120, 220)
    assert (result.width, result.height, result.media_type) == (64, 48, "image/png")
    assert result.provider == "jobapi"
    assert result.metadata["job_id"] == "job-1"
    assert "render_ms" in result.metadata
    post = next(s for s in srv.seen if s.method == "POST")
    body = __import__("json").loads(post.body)
    assert sorted(body) == sorted(SEED_FIELDS)
    assert body == {"url": "https://example.org/page", "width": 800, "height": 600, "format": "png",
                    "full_page": True, "block_ads": False, "dark_mode": False}
    assert all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in srv.seen)
    assert TOKEN not in "".join(f"{k}{v}" for k, v in result.metadata.items())


def test_server_without_long_poll_is_polled_with_backoff():
    sleep = RecordingSleep()

    async def main():
        async with JobServer(long_poll=False) as srv:
            srv.polls_to_complete = 8
            await capture_with(srv, spec(), sleep=sleep)
            return srv

    srv = asyncio.run(main())
    polls = [s for s in srv.seen if s.method == "GET" and s.path == "/jobs/job-1"]
    assert len(polls) == 8
    assert polls[0].query["wait"] == "25"  # asked to hold; this server ignores it
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_long_poll_server_needs_few_polls_and_no_client_sleeps():
    sleep = RecordingSleep()

    async def main():
        async with JobServer(long_poll=True) as srv:
            srv.polls_to_complete = 5  # counted per server-side check while it holds the request
            await capture_with(srv, spec(), sleep=sleep)
            return srv

    srv = asyncio.run(main())
    assert srv.hits("/jobs/job-1", "GET") == 1
    assert sleep.delays == []


def test_429_with_retry_after_on_submit_waits_then_succeeds():
    sleep = RecordingSleep()

    async def main():
        async with JobServer() as srv:
            srv.post_faults = [lambda: web.json_response({"detail": "Too many requests"}, status=429,
                                                         headers={"Retry-After": "3"})]
            result = await capture_with(srv, spec(), sleep=sleep)
            return result, srv

    result, srv = asyncio.run(main())
    assert open_image(result.data).size == (64, 48)
    assert srv.hits("/screenshots") == 2
    assert sleep.delays[0] == 3.0


def test_503_twice_then_accepted():
    sleep = RecordingSleep()

    async def main():
        async with JobServer() as srv:
            srv.post_faults = [lambda: web.Response(status=503, text="starting")] * 2
            result = await capture_with(srv, spec(), sleep=sleep)
            return result, srv

    result, srv = asyncio.run(main())
    assert result.data.startswith(b"\x89PNG")
    assert srv.hits("/screenshots") == 3
    assert sleep.delays[:2] == [0.25, 0.5]


def test_401_is_not_retried_and_says_check_your_key():
    async def main():
        async with JobServer(token=TOKEN) as srv:
            with pytest.raises(AuthError) as info:
                await capture_with(srv, spec(), api_key="wrong-key-123456")
            return info.value, srv

    err, srv = asyncio.run(main())
    assert srv.hits("/screenshots") == 1
    assert "check your API key" in str(err)
    assert "wrong-key-123456" not in str(err)


def test_read_timeout_is_a_capture_timeout():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"job_id": "x", "status": "pending"}, status=202)

    async def main():
        async with JobServer() as srv:
            srv.route("POST", "/screenshots", slow)
            async with make_client(base_url=srv.base_url, timeout=httpx.Timeout(0.2)) as client:
                with pytest.raises(CaptureTimeout) as info:
                    await capture_with(srv, spec(), client=client,
                                       policy=RetryPolicy(max_attempts=2, sleep=RecordingSleep()))
            return info.value, srv

    err, srv = asyncio.run(main())
    assert "did not answer within 0.2 s" in err.message
    assert srv.hits("/screenshots") == 2


def test_html_with_status_200_is_refused():
    async def main():
        async with JobServer() as srv:
            srv.image = b"<!DOCTYPE html><html><body>Login required</body></html>"
            srv.image_type = "text/html"
            with pytest.raises(BadResponse) as info:
                await capture_with(srv, spec())
            return info.value

    err = asyncio.run(main())
    assert "a web page (HTML) instead of an image" in err.message
    assert "nothing was saved" in err.hint


def test_truncated_picture_is_refused():
    async def main():
        async with JobServer() as srv:
            full = make_image(400, 300, (1, 2, 3))
            srv.image = full[: len(full) // 2]
            with pytest.raises(BadResponse) as info:
                await capture_with(srv, spec())
            return info.value

    assert "damaged or truncated" in asyncio.run(main()).message


def test_wrong_format_is_refused():
    async def main():
        async with JobServer() as srv:
            with pytest.raises(BadResponse) as info:
                await capture_with(srv, spec(format="jpeg"))
            return info.value

    assert "PNG although JPEG was asked for" in asyncio.run(main()).message


def test_failed_job_on_a_seed_server_is_a_page_load_error_with_the_servers_words():
    async def main():
        async with JobServer() as srv:
            srv.fail = {"error": "net::ERR_NAME_NOT_RESOLVED"}
            with pytest.raises(PageLoadError) as info:
                await capture_with(srv, spec())
            return info.value

    err = asyncio.run(main())
    assert err.message == "Job API (self-hosted) could not capture the page: net::ERR_NAME_NOT_RESOLVED"


def test_failed_job_with_error_kind_on_the_extended_server():
    async def main():
        async with JobServer() as srv:
            srv.fail = {"error": "No element matches '#missing'", "error_kind": "selector_not_found"}
            with pytest.raises(SelectorNotFound) as info:
                await capture_with(srv, spec(selector="#missing"), extended=True, provider_id="local",
                                   label="Local engine")
            return info.value

    err = asyncio.run(main())
    assert err.message == "No element matches '#missing'"
    assert "selector" in err.hint


def test_job_that_never_completes_hits_the_bounded_wait():
    async def main():
        async with JobServer(long_poll=True) as srv:
            srv.never_complete = True
            p = JobApiProvider(base_url=srv.base_url, wait_margin_s=0.5)
            try:
                with pytest.raises(CaptureTimeout) as info:
                    await p.capture(spec(timeout_s=1))
            finally:
                await p.aclose()
            return info.value, srv

    err, srv = asyncio.run(main())
    assert err.message == "The job did not finish within 1.5 s"
    assert srv.deleted == ["job-1"]  # the server is told to drop the job


def test_lost_job_says_the_server_lost_it():
    async def main():
        async with JobServer() as srv:
            srv.lose_jobs = True
            with pytest.raises(ProviderUnavailable) as info:
                await capture_with(srv, spec())
            return info.value, srv

    err, srv = asyncio.run(main())
    assert "lost job job-1 (was the server restarted?)" in err.message
    assert err.hint == "capture again"
    assert srv.hits("/jobs/job-1") == 1  # a 404 is not retried


@pytest.mark.parametrize(("options", "named"), [
    ({"delay_ms": 500}, "delay-ms"),
    ({"selector": "#hero"}, "selector"),
    ({"format": "pdf"}, "format pdf"),
    ({"scale": 2}, "scale 2"),
    ({"css": "body{}"}, "css"),
    ({"hide_cookie_banners": True}, "hide-cookie-banners"),
    ({"format": "jpeg", "quality": 50}, "quality 50"),
])
def test_foreign_job_api_refuses_non_seed_options_before_sending(options, named):
    async def main():
        async with JobServer() as srv:
            with pytest.raises(Unsupported) as info:
                await capture_with(srv, spec(**options))
            return info.value, srv

    err, srv = asyncio.run(main())
    assert named in err.message
    assert err.message.startswith("jobapi cannot honour")
    assert srv.seen == []


def test_extended_mode_sends_every_field():
    async def main():
        async with JobServer() as srv:
            await capture_with(srv, spec(delay_ms=250, hide_selectors=("#a", ".b"), wait_until="networkidle"),
                               extended=True, provider_id="local")
            return srv

    srv = asyncio.run(main())
    body = __import__("json").loads(next(s for s in srv.seen if s.method == "POST").body)
    assert sorted(body) == sorted(SEED_FIELDS + EXTENDED_FIELDS)
    assert body["delay_ms"] == 250 and body["hide_selectors"] == ["#a", ".b"]
    assert body["wait_until"] == "networkidle" and body["timeout_s"] == 30.0


def test_validation_error_shows_the_servers_field_message():
    async def main():
        async with JobServer() as srv:
            srv.post_faults = [lambda: web.json_response({"detail": [
                {"loc": ["body", "width"], "msg": "ensure this value is less than or equal to 1920",
                 "type": "value_error"}]}, status=422)]
            with pytest.raises(InvalidRequest) as info:
                await capture_with(srv, spec(width=2560))
            return info.value

    err = asyncio.run(main())
    assert "width: ensure this value is less than or equal to 1920" in err.message


def test_plain_http_is_refused_except_for_loopback():
    with pytest.raises(InvalidSpec) as info:
        JobApiProvider(base_url="http://shots.example.com")
    assert "Plain http://" in str(info.value)
    with pytest.raises(InvalidSpec):
        JobApiProvider(base_url=None)
    JobApiProvider(base_url="https://shots.example.com")  # fine
    JobApiProvider(base_url="http://localhost:8000")  # fine


def test_key_is_not_sent_to_another_origin():
    async def main():
        async with JobServer(token=TOKEN) as srv, ScriptedServer() as cdn:
            async def picture(request: web.Request) -> web.Response:
                return web.Response(body=make_image(32, 32), content_type="image/png")

            cdn.route("GET", "/pictures/1.png", picture)
            srv.image_url = lambda job_id: f"{cdn.base_url}/pictures/1.png"
            result = await capture_with(srv, spec(), api_key=TOKEN)
            return result, cdn

    result, cdn = asyncio.run(main())
    assert result.width == 32
    assert cdn.seen and "authorization" not in cdn.seen[0].headers


def test_cancelling_the_capture_deletes_the_job():
    async def main():
        async with JobServer(long_poll=True) as srv:
            srv.never_complete = True
            p = provider(srv)
            task = asyncio.create_task(p.capture(spec()))
            for _ in range(200):
                await asyncio.sleep(0.01)
                if srv.hits("/jobs/job-1", "GET"):
                    break
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await p.aclose()
            return srv

    srv = asyncio.run(main())
    assert srv.deleted == ["job-1"]


def test_health():
    async def main():
        async with JobServer(token=TOKEN) as srv:
            p = provider(srv, api_key=TOKEN)
            try:
                data = await p.health()
            finally:
                await p.aclose()
            return data, srv

    data, srv = asyncio.run(main())
    assert data["ok"] is True
    assert "authorization" not in srv.seen[0].headers


def test_health_of_a_server_that_is_not_a_job_api():
    async def main():
        async with ScriptedServer() as srv:
            async def page(request: web.Request) -> web.Response:
                return web.Response(text="<html>hello</html>", content_type="text/html")

            srv.route("GET", "/health", page)
            p = JobApiProvider(base_url=srv.base_url)
            try:
                with pytest.raises(BadResponse) as info:
                    await p.health()
            finally:
                await p.aclose()
            return info.value

    assert "a web page (HTML)" in asyncio.run(main()).message
