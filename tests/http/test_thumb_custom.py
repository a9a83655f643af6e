"""ThumbProvider and CustomProvider against loopback servers: the exact request, and what comes back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from shotdesk.capture.http import RateLimiter, RetryPolicy
from shotdesk.capture.providers.custom import CustomProvider, CustomTemplate
from shotdesk.capture.providers.thumb import ThumbProvider
from shotdesk.core.errors import AuthError, BadResponse, InvalidRequest, InvalidSpec, Unsupported
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import make_image, open_image
from tests.http.server import RecordingSleep, ScriptedServer

KEY = "custom-KEY-abcdef123456"
PAGE = "https://example.org/page?x=1&y=two words"


def spec(provider: str, **kw: Any) -> CaptureSpec:
    return CaptureSpec(url=PAGE.replace(" ", "%20"), provider=provider, **kw)


def fast() -> dict[str, Any]:
    sleep = RecordingSleep()
    return {"policy": RetryPolicy(sleep=sleep, clock=sleep.clock, random=lambda: 0.5),
            "limiter": RateLimiter(probe_first=False, sleep=sleep, clock=sleep.clock)}


def picture_handler(*, cache: list[str] | None = None, color=(0, 200, 0), fmt: str = "PNG"):
    cache = list(cache or [])

    async def handler(request: web.Request) -> web.Response:
        headers = {"X-Cache": cache.pop(0)} if cache else {}
        media = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
        return web.Response(body=make_image(40, 30, color, fmt), content_type=media, headers=headers)

    return handler


# ---------------------------------------------------------------------------------------- thumb

def test_thumb_sends_url_and_size_and_reports_x_cache():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/thumb", picture_handler(cache=["MISS", "HIT"]))
            p = ThumbProvider(base_url=srv.base_url, **fast())
            try:
                first = await p.capture(spec("thumb", width=400, height=300))
                second = await p.capture(spec("thumb", width=400, height=300))
            finally:
                await p.aclose()
            return first, second, srv

    first, second, srv = asyncio.run(main())
    assert srv.seen[0].method == "GET" and srv.seen[0].path == "/thumb"
    assert srv.seen[0].query == {"url": "https://example.org/page?x=1&y=two%20words", "w": "400", "h": "300"}
    assert first.metadata == {"cache": "MISS"} and second.metadata == {"cache": "HIT"}
    assert open_image(first.data).getpixel((5, 5)) == (0, 200, 0)
    assert (first.width, first.height, first.provider) == (40, 30, "thumb")


@pytest.mark.parametrize("options", [{"full_page": True}, {"format": "jpeg"}, {"delay_ms": 100},
                                     {"scale": 2}])
def test_thumb_refuses_what_it_cannot_do_before_sending(options):
    async def main():
        async with ScriptedServer() as srv:
            p = ThumbProvider(base_url=srv.base_url)
            try:
                with pytest.raises(Unsupported):
                    await p.capture(spec("thumb", **options))
            finally:
                await p.aclose()
            return srv

    assert asyncio.run(main()).seen == []


def test_thumb_retries_an_upstream_502_and_reports_a_422():
    async def main():
        async with ScriptedServer() as srv:
            answers = [web.json_response({"detail": "upstream render failed"}, status=502)]
            ok = picture_handler()

            async def flaky(request: web.Request) -> web.Response:
                return answers.pop(0) if answers else await ok(request)

            srv.route("GET", "/thumb", flaky)
            p = ThumbProvider(base_url=srv.base_url, **fast())
            try:
                result = await p.capture(spec("thumb"))
            finally:
                await p.aclose()

            async def invalid(request: web.Request) -> web.Response:
                return web.json_response({"detail": "url must be http(s)"}, status=422)

            srv.route("GET", "/thumb", invalid)
            p = ThumbProvider(base_url=srv.base_url, **fast())
            try:
                with pytest.raises(InvalidRequest) as info:
                    await p.capture(spec("thumb"))
            finally:
                await p.aclose()
            return result, info.value, srv

    result, err, srv = asyncio.run(main())
    assert result.width == 40 and srv.hits("/thumb") == 3
    assert "url must be http(s)" in err.message


# ---------------------------------------------------------------------------------------- templates

def test_template_string_forms():
    t = CustomTemplate.parse("GET https://shots.example/api?u={url}&w={width}")
    assert (t.method, t.url, t.body) == ("GET", "https://shots.example/api?u={url}&w={width}", None)
    t = CustomTemplate.parse('https://shots.example/render {"url": "{url}"}')
    assert t.method == "POST" and t.body == {"url": "{url}"}
    t = CustomTemplate.parse('PUT https://shots.example/render {"url": "{url}"}')
    assert t.method == "PUT"
    t = CustomTemplate.parse('{"method": "POST", "url": "https://s.example/r", "body": {"u": "{url}"}, '
                             '"booleans": "1/0", "auth_header": "X-Key", "formats": ["png", "jpg"]}')
    assert t.booleans == "1/0" and t.auth_header == "X-Key" and t.formats == ("png", "jpeg")


def test_template_round_trips_through_settings():
    t = CustomTemplate(url="https://s.example/r?u={url}", method="POST", body={"w": "{width}"},
                       booleans="yes/no", auth_header="X-API-Key", auth_scheme="Token", label="Farm")
    assert CustomTemplate.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    cli = CustomTemplate.from_dict({"template": "GET https://s.example/a?u={url}", "auth_header": "X-Key"})
    assert cli.url == "https://s.example/a?u={url}" and cli.auth_header == "X-Key"


@pytest.mark.parametrize(("text", "words"), [
    ("GET https://s.example/a?u={url}&x={colour}", "Unknown placeholder {colour}"),
    ("DELETE https://s.example/a", "method must be one of"),
    ('GET https://s.example/a {"u": "{url}"}', "A GET request cannot have a body"),
    ('POST https://s.example/a {"u": }', "not valid JSON"),
    ("GET https://{url}/a", "host cannot contain placeholders"),
    ("", "empty"),
])
def test_bad_templates_are_refused_with_a_reason(text, words):
    with pytest.raises(InvalidSpec) as info:
        CustomTemplate.parse(text)
    assert words in str(info.value)


def test_capabilities_follow_the_placeholders():
    caps = CustomTemplate.parse("GET https://s.example/a?u={url}&d={delay_s}&f={format}").capabilities()
    assert caps.options == frozenset({"delay_ms"})
    assert caps.formats == frozenset({"png", "jpeg", "webp", "pdf"})
    assert caps.max_scale == 1.0
    caps = CustomTemplate.parse("GET https://s.example/a?u={url}&s={scale}").capabilities()
    assert caps.formats == frozenset({"png"}) and caps.max_scale == 3.0


# ---------------------------------------------------------------------------------------- custom

def custom(srv: ScriptedServer, template: str | dict[str, Any], **kw: Any) -> CustomProvider:
    return CustomProvider(template=template, **{**fast(), **kw})


def test_custom_get_fills_and_encodes_the_url_and_sends_the_key_header():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/api/shot", picture_handler(fmt="JPEG", color=(250, 250, 250)))
            template = {"template": f"GET {srv.base_url}/api/shot?u={{url}}&w={{width}}&h={{height}}"
                                    f"&full={{full_page}}&fmt={{ext}}&delay={{delay_s}}&hide={{hide_selectors}}",
                        "booleans": "1/0", "auth_header": "X-API-Key"}
            p = custom(srv, template, api_key=KEY)
            try:
                result = await p.capture(spec("custom", width=800, height=600, full_page=True,
                                              format="jpeg", delay_ms=1500, hide_selectors=("#a", ".b c")))
            finally:
                await p.aclose()
            return result, srv

    result, srv = asyncio.run(main())
    seen = srv.seen[0]
    assert seen.method == "GET"
    assert seen.query == {"u": "https://example.org/page?x=1&y=two%20words", "w": "800", "h": "600",
                          "full": "1", "fmt": "jpg", "delay": "1.5", "hide": "#a,.b c"}
    assert "%26y%3Dtwo" in seen.raw_query  # the page URL was encoded, not spliced into the query
    assert seen.headers["x-api-key"] == KEY
    assert result.media_type == "image/jpeg" and result.width == 40
    assert KEY not in json.dumps(dict(result.metadata))


def test_custom_post_fills_a_typed_json_body():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("POST", "/render", picture_handler())
            template = (f'POST {srv.base_url}/render {{"url": "{{url}}", "viewport": {{"width": "{{width}}", '
                        f'"scale": "{{scale}}"}}, "fullPage": "{{full_page}}", "hide": "{{hide_selectors}}", '
                        f'"note": "w={{width}}px", "css": "{{css}}", "literal": "{{{{x}}}}"}}')
            p = custom(srv, template)
            try:
                await p.capture(spec("custom", width=800, scale=2, hide_selectors=("#a",)))
            finally:
                await p.aclose()
            return srv

    srv = asyncio.run(main())
    seen = srv.seen[0]
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == {
        "url": "https://example.org/page?x=1&y=two%20words", "viewport": {"width": 800, "scale": 2.0},
        "fullPage": False, "hide": ["#a"], "note": "w=800px", "css": None, "literal": "{x}"}


def test_custom_path_template_joins_the_base_url():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/v2/shot", picture_handler())
            p = custom(srv, "GET /v2/shot?u={url}", base_url=srv.base_url + "/")
            try:
                await p.capture(spec("custom"))
            finally:
                await p.aclose()
            return srv

    assert asyncio.run(main()).seen[0].path == "/v2/shot"


@pytest.mark.parametrize(("query", "options", "named"), [
    ("", {"delay_ms": 500}, "delay-ms"), ("", {"dark_mode": True}, "dark-mode"),
    ("", {"width": 1024}, "width 1024"), ("", {"format": "webp"}, "format webp"),
    ("&f={format}", {"format": "jpeg", "quality": 40}, "quality 40"),
])
def test_custom_refuses_options_the_template_cannot_carry(query, options, named):
    async def main():
        async with ScriptedServer() as srv:
            p = custom(srv, f"GET {srv.base_url}/a?u={{url}}{query}")
            try:
                with pytest.raises(Unsupported) as info:
                    await p.capture(spec("custom", **options))
            finally:
                await p.aclose()
            return info.value, srv

    err, srv = asyncio.run(main())
    assert named in err.message and srv.seen == []


def test_custom_refuses_html_with_status_200():
    async def main():
        async with ScriptedServer() as srv:
            async def html(request: web.Request) -> web.Response:
                return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

            srv.route("GET", "/a", html)
            p = custom(srv, f"GET {srv.base_url}/a?u={{url}}")
            try:
                with pytest.raises(BadResponse) as info:
                    await p.capture(spec("custom"))
            finally:
                await p.aclose()
            return info.value

    assert "a web page (HTML)" in asyncio.run(main()).message


def test_custom_redirect_to_another_origin_drops_the_key_header():
    async def main():
        async with ScriptedServer() as srv, ScriptedServer() as cdn:
            cdn.route("GET", "/img.png", picture_handler())

            async def redirect(request: web.Request) -> web.Response:
                return web.Response(status=302, headers={"Location": f"{cdn.base_url}/img.png"})

            srv.route("GET", "/a", redirect)
            p = custom(srv, {"template": f"GET {srv.base_url}/a?u={{url}}", "auth_header": "X-Key"},
                       api_key=KEY)
            try:
                result = await p.capture(spec("custom"))
            finally:
                await p.aclose()
            return result, srv, cdn

    result, srv, cdn = asyncio.run(main())
    assert result.width == 40
    assert srv.seen[0].headers["x-key"] == KEY
    assert "x-key" not in cdn.seen[0].headers


def test_custom_plain_http_to_a_remote_host_is_refused():
    p = CustomProvider(template="GET http://shots.example.com/a?u={url}")
    with pytest.raises(InvalidSpec) as info:
        asyncio.run(p.capture(spec("custom")))
    assert "Plain http://" in str(info.value)
    asyncio.run(p.aclose())


def test_custom_with_auth_header_but_no_key_says_so():
    p = CustomProvider(template={"template": "GET https://s.example/a?u={url}", "auth_header": "X-Key"})
    with pytest.raises(AuthError) as info:
        asyncio.run(p.capture(spec("custom")))
    assert "key set custom" in str(info.value)
    asyncio.run(p.aclose())
