"""The retrying request helper against real loopback servers: faults in, typed errors out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from aiohttp import web

from shotdesk import __version__
from shotdesk.capture.http import RateLimiter, RetryPolicy, make_client, request
from shotdesk.core.errors import (
    AuthError,
    CaptureTimeout,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from tests.http.server import RecordingSleep, ScriptedServer, raw_server

KEY = "sk-test-KEY-9f8e7d6c5b4a"


def fast_policy(sleep: RecordingSleep, **kw) -> RetryPolicy:
    kw.setdefault("random", lambda: 0.5)
    return RetryPolicy(sleep=sleep, **kw)


def sequence(*makers: Callable[[], web.Response]):
    """A handler answering with fresh responses from ``makers`` in turn (the last one repeats)."""
    items = list(makers)

    async def handler(request: web.Request) -> web.Response:
        return items.pop(0)() if len(items) > 1 else items[0]()

    return handler


def ok() -> web.Response:
    return web.Response(body=b"picture", content_type="image/png")


def test_429_with_retry_after_waits_then_succeeds():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(
                lambda: web.json_response({"error": "rate_limited", "message": "slow down"}, status=429,
                                  headers={"Retry-After": "2"}),
                ok))
            async with make_client(base_url=srv.base_url) as client:
                r = await request(client, "GET", "/shot", provider="Foo", policy=fast_policy(sleep))
            return r, srv.hits("/shot")

    r, hits = asyncio.run(main())
    assert r.status_code == 200 and r.content == b"picture"
    assert hits == 2
    assert sleep.delays == [2.0]  # exactly what the server asked


def test_503_twice_then_200():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(
                lambda: web.Response(status=503, text="busy"), lambda: web.Response(status=503, text="busy"),
                ok))
            async with make_client(base_url=srv.base_url) as client:
                r = await request(client, "GET", "shot", provider="Foo",
                                  policy=fast_policy(sleep, max_attempts=3))
            return r, srv.hits("/shot")

    r, hits = asyncio.run(main())
    assert r.content == b"picture" and hits == 3
    assert sleep.delays == [0.25, 0.5]  # full jitter 0.5 × (0.5, 1.0)


def test_503_forever_gives_up_after_the_attempts_with_a_clear_error():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(lambda: web.Response(status=503, text="maintenance")))
            async with make_client(base_url=srv.base_url) as client:
                with pytest.raises(ProviderUnavailable) as info:
                    await request(client, "GET", "/shot", provider="Foo",
                                  policy=fast_policy(sleep, max_attempts=3))
            return info.value, srv.hits("/shot")

    err, hits = asyncio.run(main())
    assert hits == 3
    assert err.message == "Foo is unavailable (HTTP 503): maintenance (after 3 attempts)"


def test_401_is_not_retried_and_says_check_your_key():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(lambda: web.json_response(
                {"error": "unauthorized", "message": f"Invalid API key {KEY}"}, status=401)))
            async with make_client(base_url=srv.base_url) as client:
                with pytest.raises(AuthError) as info:
                    await request(client, "GET", "/shot", provider="Foo", params={"access_key": KEY},
                                  policy=fast_policy(sleep), secrets=(KEY,))
            return info.value, srv.hits("/shot")

    err, hits = asyncio.run(main())
    assert hits == 1 and sleep.delays == []
    assert "check your API key" in str(err)
    assert KEY not in str(err)


def test_quota_429_is_not_retried():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(lambda: web.json_response(
                {"error": "quota_exceeded", "message": "Monthly quota exceeded"}, status=429,
                headers={"Retry-After": "1"})))
            async with make_client(base_url=srv.base_url) as client:
                with pytest.raises(QuotaExceeded) as info:
                    await request(client, "GET", "/shot", provider="Foo", policy=fast_policy(sleep))
            return info.value, srv.hits("/shot")

    err, hits = asyncio.run(main())
    assert hits == 1 and sleep.delays == []
    assert "Monthly quota exceeded" in str(err)


def test_read_timeout_becomes_capture_timeout_after_retries():
    sleep = RecordingSleep()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return ok()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", slow)
            async with make_client(base_url=srv.base_url, timeout=httpx.Timeout(0.2)) as client:
                with pytest.raises(CaptureTimeout) as info:
                    await request(client, "GET", "/shot", provider="Foo",
                                  policy=fast_policy(sleep, max_attempts=2))
            return info.value, srv.hits("/shot")

    err, hits = asyncio.run(main())
    assert hits == 2
    assert err.message == "Foo did not answer within 0.2 s (after 2 attempts)"


def test_connection_refused_names_provider_and_host_only():
    sleep = RecordingSleep()

    async def main():
        server, port = await raw_server(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        async with make_client() as client:
            with pytest.raises(ProviderUnavailable) as info:
                await request(client, "GET", f"http://127.0.0.1:{port}/take",
                              params={"access_key": KEY}, provider="Foo",
                              policy=fast_policy(sleep, max_attempts=2))
        return info.value, port

    err, port = asyncio.run(main())
    assert err.message.startswith(f"Could not reach Foo at 127.0.0.1:{port}")
    assert "is the server running" in err.hint
    assert KEY not in str(err) and "access_key" not in str(err)
    assert len(sleep.delays) == 1  # retried once, then gave up


def test_truncated_body_is_an_error_not_a_short_picture():
    sleep = RecordingSleep()
    hits = 0

    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal hits
        hits += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n"
                     + b"\x89PNG\r\n\x1a\n" + b"x" * 100)
        await writer.drain()
        writer.close()

    async def main():
        server, port = await raw_server(truncated)
        async with server, make_client() as client:
            with pytest.raises(ProviderUnavailable) as info:
                await request(client, "GET", f"http://127.0.0.1:{port}/x", provider="Foo",
                              policy=fast_policy(sleep, max_attempts=2))
        return info.value

    err = asyncio.run(main())
    assert "broke off before the answer was complete" in err.message
    assert hits == 2


def test_user_agent_names_shotdesk():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(ok))
            async with make_client(base_url=srv.base_url) as client:
                await request(client, "GET", "/shot", provider="Foo")
            return srv.seen[0].headers["user-agent"]

    assert asyncio.run(main()) == f"ShotDesk/{__version__}"


def test_limiter_keeps_a_burst_under_the_servers_rate_limit():
    """The server allows 2 requests per 0.3 s window and answers 429 beyond; none should be seen."""
    window = 0.3
    state = {"start": 0.0, "count": 0, "rejected": 0}

    async def limited(request: web.Request) -> web.Response:
        now = time.monotonic()
        if now - state["start"] >= window:
            state["start"], state["count"] = now, 0
        reset = f"{max(0.0, window - (now - state['start'])):.3f}"
        if state["count"] >= 2:
            state["rejected"] += 1
            return web.json_response({"error": "rate_limited"}, status=429,
                                     headers={"Retry-After": reset})
        state["count"] += 1
        return web.Response(body=b"ok", headers={
            "RateLimit-Limit": "2", "RateLimit-Remaining": str(2 - state["count"]),
            "RateLimit-Reset": reset})

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", limited)
            limiter = RateLimiter(max_concurrency=8, provider="Foo")
            async with make_client(base_url=srv.base_url) as client:
                results = await asyncio.gather(*(
                    request(client, "GET", "/shot", provider="Foo", limiter=limiter,
                            policy=RetryPolicy(max_attempts=1))
                    for _ in range(6)))
            return results

    results = asyncio.run(main())
    assert [r.content for r in results] == [b"ok"] * 6
    assert state["rejected"] == 0


def test_rate_limited_error_when_the_server_wants_a_long_pause():
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/shot", sequence(lambda: web.json_response(
                {"error": "rate_limited"}, status=429, headers={"Retry-After": "600"})))
            async with make_client(base_url=srv.base_url) as client:
                with pytest.raises(RateLimited) as info:
                    await request(client, "GET", "/shot", provider="Foo", policy=fast_policy(sleep))
            return info.value, srv.hits("/shot")

    err, hits = asyncio.run(main())
    assert hits == 1 and err.retry_after == 600


def test_debug_logs_never_contain_the_key(caplog: pytest.LogCaptureFixture):
    sleep = RecordingSleep()

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/take", sequence(lambda: web.Response(status=503, text=f"bad {KEY}"), ok))
            async with make_client(base_url=srv.base_url) as client:
                await request(client, "GET", "/take", params={"access_key": KEY, "url": "https://a.org"},
                              provider="Foo", policy=fast_policy(sleep), secrets=(KEY,))

    with caplog.at_level(logging.DEBUG, logger="shotdesk"):
        asyncio.run(main())
    assert "access_key=***" in caplog.text  # the request was logged, redacted
    assert "retry 1" in caplog.text
    assert KEY not in caplog.text


def test_httpx_own_request_log_is_redacted(caplog: pytest.LogCaptureFixture):
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/take", sequence(ok))
            async with make_client(base_url=srv.base_url) as client:
                await request(client, "GET", "/take", params={"access_key": KEY, "url": "https://a.org"},
                              provider="Foo")

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("HTTP Request: GET" in line and "access_key=***" in line for line in httpx_lines)
    client_side = [r for r in caplog.records if not r.name.startswith("aiohttp")]  # not the test server
    assert client_side and all(KEY not in r.getMessage() for r in client_side)
