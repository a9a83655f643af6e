"""ApiFlash adapter: request mapping (pure) and the contract against a loopback ApiFlash."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.apiflash import ApiFlashProvider, build_request, delay_seconds
from shotdesk.core.errors import AuthError, QuotaExceeded, Unsupported
from tests.contract.fakes import KEY, ApiFlashFake
from tests.contract.harness import TARGET, Harness, make_spec

BASE = "https://api.apiflash.com"


def built(**spec_kw: object) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("apiflash", **spec_kw), base_url=BASE, api_key=KEY)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_query() -> None:
    req = built()
    assert req.method == "GET" and req.url.path == "/v1/urltoimage"
    assert dict(req.url.params) == {
        "access_key": KEY, "url": TARGET, "format": "png", "width": "400", "height": "300",
        "full_page": "false", "scale_factor": "1", "delay": "0", "wait_until": "page_loaded",
        "no_ads": "false", "no_cookie_banners": "false", "fresh": "true", "response_type": "image",
    }


@pytest.mark.parametrize(("ms", "seconds"), [(0, 0), (999, 1), (1000, 1), (2001, 3), (10_000, 10)])
def test_delay_is_whole_seconds_rounded_up(ms: int, seconds: int) -> None:
    assert delay_seconds(ms) == seconds
    assert built(delay_ms=ms).url.params["delay"] == str(seconds)


def test_names_mapped() -> None:
    params = built(scale=2.0, format="webp", quality=50, selector="#chart", block_ads=True,
                   hide_cookie_banners=True, wait_until="networkidle", user_agent="UA/3").url.params
    assert params["scale_factor"] == "2" and params["quality"] == "50"
    assert params["element"] == "#chart"
    assert params["no_ads"] == "true" and params["no_cookie_banners"] == "true"
    assert params["wait_until"] == "network_idle" and params["user_agent"] == "UA/3"


def test_hidden_selectors_become_css_in_a_form_post() -> None:
    req = built(css="body{margin:0}", hide_selectors=(".ad", "#chat"))
    assert req.method == "POST" and str(req.url) == f"{BASE}/v1/urltoimage"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(req.content.decode()).items()}
    assert form["css"] == ("body{margin:0}\n.ad { display: none !important; }\n"
                           "#chat { display: none !important; }")
    assert form["access_key"] == KEY


@pytest.mark.parametrize(("options", "named"), [
    ({"dark_mode": True}, "dark-mode"),
    ({"format": "pdf"}, "format pdf"),
    ({"scale": 1.5}, "scale 1.5"),
])
def test_unsupported_options_are_refused(options: dict[str, object], named: str) -> None:
    with pytest.raises(Unsupported) as info:
        built(**options)
    assert named in str(info.value)


# ---------------------------------------------------------------------- contract
def test_capture_maps_options_and_returns_the_image(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    spec = make_spec("apiflash", format="jpeg", quality=75, scale=2.0, full_page=True, delay_ms=1200,
                     block_ads=True, hide_cookie_banners=True)
    result = harness.capture(ApiFlashProvider, spec)
    rec = fake.last("/v1/urltoimage")
    assert rec.method == "GET" and rec.q("access_key") == KEY
    assert rec.q("delay") == "2" and rec.q("scale_factor") == "2"
    assert rec.q("format") == "jpeg" and rec.q("quality") == "75" and rec.q("full_page") == "true"
    assert rec.q("no_ads") == "true" and rec.q("no_cookie_banners") == "true"
    assert rec.q("wait_until") == "page_loaded" and rec.q("fresh") == "true"
    assert (result.media_type, result.width, result.height) == ("image/jpeg", 800, 1000)


def test_form_post_capture(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    result = harness.capture(ApiFlashProvider, make_spec("apiflash", js="window.scrollTo(0, 0)"))
    rec = fake.last("/v1/urltoimage")
    assert rec.method == "POST" and rec.params["js"] == "window.scrollTo(0, 0)"
    assert result.width == 400


def test_element_capture(harness: Harness) -> None:
    ApiFlashFake(harness.server)
    result = harness.capture(ApiFlashProvider, make_spec("apiflash", selector="#chart"))
    assert (result.width, result.height) == (160, 90)


def test_wrong_key_is_an_auth_error(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(ApiFlashProvider, make_spec("apiflash"), api_key="wrong")
    assert "access key" in str(info.value).lower() and "Settings" in info.value.hint
    assert fake.hits("/v1/urltoimage") == 1


def test_quota_402_is_not_retried(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    fake.push(fake.quota_exceeded())
    with pytest.raises(QuotaExceeded, match="quota"):
        harness.capture(ApiFlashProvider, make_spec("apiflash"))
    assert fake.hits("/v1/urltoimage") == 1 and harness.clock.sleeps == []


def test_quota_message_on_429_is_quota(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    fake.push(fake.error(429, "Monthly quota exceeded."))
    with pytest.raises(QuotaExceeded):
        harness.capture(ApiFlashProvider, make_spec("apiflash"))
    assert fake.hits("/v1/urltoimage") == 1


def test_unsupported_option_sends_nothing(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    with pytest.raises(Unsupported, match="dark-mode"):
        harness.capture(ApiFlashProvider, make_spec("apiflash", dark_mode=True))
    assert fake.received == []


def test_quota_endpoint(harness: Harness) -> None:
    fake = ApiFlashFake(harness.server)
    lines = harness.usage(ApiFlashProvider)
    assert lines == {"used": "12", "limit": "100", "remaining": "88", "resets": "2027-01-01 00:00 UTC"}
    assert fake.last("/v1/urltoimage/quota").q("access_key") == KEY
    assert fake.hits("/v1/urltoimage") == 0


def test_quota_endpoint_with_a_wrong_key(harness: Harness) -> None:
    ApiFlashFake(harness.server)
    with pytest.raises(AuthError):
        harness.usage(ApiFlashProvider, api_key="wrong")
