"""ScreenshotOne adapter: request mapping (pure) and the contract against a loopback ScreenshotOne."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.screenshotone import ScreenshotOneProvider, build_request, delay_seconds
from shotdesk.core.errors import AuthError, QuotaExceeded, SelectorNotFound
from tests.contract.fakes import KEY, ScreenshotOneFake
from tests.contract.harness import TARGET, Harness, make_spec

BASE = "https://api.screenshotone.com"


def built(**spec_kw: object) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("screenshotone", **spec_kw), base_url=BASE, api_key=KEY)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_query() -> None:
    req = built()
    assert req.method == "GET" and req.url.path == "/take"
    assert dict(req.url.params) == {
        "access_key": KEY, "url": TARGET, "format": "png", "viewport_width": "400",
        "viewport_height": "300", "device_scale_factor": "1", "full_page": "false", "delay": "0",
        "timeout": "30", "wait_until": "load", "dark_mode": "false", "block_ads": "false",
        "block_cookie_banners": "false", "response_type": "by_format", "cache": "false",
    }
    assert "authorization" not in req.headers


@pytest.mark.parametrize(("ms", "seconds"), [(0, 0), (1, 1), (1000, 1), (1500, 2), (10_000, 10)])
def test_delay_is_whole_seconds_rounded_up(ms: int, seconds: int) -> None:
    assert delay_seconds(ms) == seconds
    assert built(delay_ms=ms).url.params["delay"] == str(seconds)


def test_names_and_units_mapped() -> None:
    req = built(format="jpeg", quality=55, scale=1.5, wait_until="networkidle", selector="#price",
                hide_selectors=(".ad", ".chat"), hide_cookie_banners=True, user_agent="Bot/2",
                timeout_s=200)
    params = req.url.params
    assert params["format"] == "jpg" and params["image_quality"] == "55"
    assert params["device_scale_factor"] == "1.5"
    assert params["wait_until"] == "networkidle0"
    assert params["selector"] == "#price" and params["error_on_selector_not_found"] == "true"
    assert params.get_list("hide_selectors") == [".ad", ".chat"]
    assert params["block_cookie_banners"] == "true" and params["user_agent"] == "Bot/2"
    assert params["timeout"] == "90"  # the synchronous maximum


def test_css_and_js_go_in_a_post_body_with_the_key() -> None:
    req = built(css="body{background:red}", js="console.log(1)")
    assert req.method == "POST" and str(req.url) == f"{BASE}/take"
    body = json.loads(req.content)
    assert body["styles"] == "body{background:red}" and body["scripts"] == "console.log(1)"
    assert body["access_key"] == KEY and body["wait_until"] == ["load"]


# ---------------------------------------------------------------------- contract
def test_capture_maps_options_and_returns_the_image(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    spec = make_spec("screenshotone", format="webp", quality=60, scale=1.5, full_page=True, delay_ms=2500,
                     wait_until="networkidle", dark_mode=True, block_ads=True, hide_cookie_banners=True,
                     hide_selectors=(".ad",))
    result = harness.capture(ScreenshotOneProvider, spec)

    rec = fake.last("/take")
    assert rec.method == "GET"
    assert rec.q("access_key") == KEY
    assert rec.q("delay") == "3" and rec.q("timeout") == "30"  # seconds
    assert rec.q("format") == "webp" and rec.q("image_quality") == "60"
    assert rec.q("viewport_width") == "400" and rec.q("device_scale_factor") == "1.5"
    assert rec.q("wait_until") == "networkidle0" and rec.q("full_page") == "true"
    # 400 × (300 + 200) at 1.5× → 600 × 750
    assert (result.media_type, result.width, result.height) == ("image/webp", 600, 750)
    assert result.metadata.get("page_status") == "200"
    assert result.final_url is None


def test_post_capture_with_css(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    result = harness.capture(ScreenshotOneProvider, make_spec("screenshotone", css="h1{display:none}"))
    rec = fake.last("/take")
    assert rec.method == "POST" and rec.params["styles"] == "h1{display:none}"
    assert result.width == 400


def test_invalid_key_400_is_an_auth_error(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(ScreenshotOneProvider, make_spec("screenshotone"), api_key="wrong-key")
    assert "Access key is invalid" in str(info.value)
    assert "Settings" in info.value.hint and "key" in info.value.hint
    assert fake.hits("/take") == 1


def test_screenshots_limit_reached_is_quota_without_retry(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    fake.push(fake.quota_exceeded())
    with pytest.raises(QuotaExceeded, match="screenshots limit"):
        harness.capture(ScreenshotOneProvider, make_spec("screenshotone"))
    assert fake.hits("/take") == 1
    assert harness.clock.sleeps == []


def test_concurrency_limit_400_is_retried(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    fake.push(fake.concurrency_limited())
    result = harness.capture(ScreenshotOneProvider, make_spec("screenshotone"))
    assert result.width == 400
    assert fake.hits("/take") == 2
    assert len(harness.clock.sleeps) == 1  # one backoff wait


def test_selector_not_found(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    fake.push(fake.error(400, "selector_not_found", "The selector \"#gone\" was not found."))
    with pytest.raises(SelectorNotFound, match="#gone"):
        harness.capture(ScreenshotOneProvider, make_spec("screenshotone", selector="#gone"))
    assert fake.hits("/take") == 1


def test_element_capture(harness: Harness) -> None:
    ScreenshotOneFake(harness.server)
    result = harness.capture(ScreenshotOneProvider, make_spec("screenshotone", selector="#price", scale=2.0))
    assert (result.width, result.height) == (320, 180)


def test_pdf(harness: Harness) -> None:
    ScreenshotOneFake(harness.server)
    result = harness.capture(ScreenshotOneProvider, make_spec("screenshotone", format="pdf"))
    assert result.media_type == "application/pdf" and result.data.startswith(b"%PDF-")


def test_usage_endpoint(harness: Harness) -> None:
    fake = ScreenshotOneFake(harness.server)
    lines = harness.usage(ScreenshotOneProvider)
    assert lines["used"] == "10" and lines["limit"] == "2000" and lines["remaining"] == "1990"
    assert lines["concurrency"] == "9 of 10 requests left this minute"
    assert lines["concurrency_resets"] == "2027-01-01 00:00:00 UTC"  # from nanoseconds
    assert fake.last("/usage").q("access_key") == KEY


def test_usage_with_a_wrong_key(harness: Harness) -> None:
    ScreenshotOneFake(harness.server)
    with pytest.raises(AuthError):
        harness.usage(ScreenshotOneProvider, api_key="wrong-key")


def test_honours_every_capture_option() -> None:
    # ScreenshotOne has a parameter for every CaptureSpec option: nothing is refused.
    spec = make_spec("screenshotone", scale=3.0, format="pdf", full_page=True, dark_mode=True, block_ads=True,
                     hide_cookie_banners=True, delay_ms=10_000, wait_until="networkidle",
                     hide_selectors=(".x",), css="a{}", js="1", user_agent="UA")
    assert ScreenshotOneProvider.capabilities.problems(spec) == []
