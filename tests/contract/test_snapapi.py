"""SnapAPI adapter: camelCase request mapping (pure) and the contract against a loopback SnapAPI."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.snapapi import SnapApiProvider, build_request
from shotdesk.core.errors import AuthError, InvalidSpec, PageLoadError, QuotaExceeded
from tests.contract.fakes import KEY, SnapApiFake
from tests.contract.harness import TARGET, Harness, make_spec

BASE = "https://api.snapapi.pics"


def built(**spec_kw: object) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("snapapi", **spec_kw), base_url=BASE, api_key=KEY)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_body_is_camel_case() -> None:
    req = built()
    assert req.method == "POST" and str(req.url) == f"{BASE}/v1/screenshot"
    assert req.headers["x-api-key"] == KEY
    assert json.loads(req.content) == {
        "url": TARGET, "format": "png", "width": 400, "height": 300, "deviceScaleFactor": 1.0,
        "fullPage": False, "delay": 0, "timeout": 30_000, "waitUntil": "load", "darkMode": False,
        "blockAds": False, "blockCookieBanners": False, "responseType": "binary", "failOnHttpError": True,
    }


def test_every_option_mapped() -> None:
    body = json.loads(built(scale=2.5, format="webp", quality=40, delay_ms=1500, wait_until="networkidle",
                            selector="#hero", hide_selectors=(".ad",), css="a{}", js="go()",
                            user_agent="UA/4", hide_cookie_banners=True, timeout_s=120).content)
    assert body["deviceScaleFactor"] == 2.5 and body["quality"] == 40
    assert body["delay"] == 1500 and body["waitUntil"] == "networkidle"
    assert body["selector"] == "#hero" and body["hideSelectors"] == [".ad"]
    assert body["css"] == "a{}" and body["javascript"] == "go()" and body["userAgent"] == "UA/4"
    assert body["blockCookieBanners"] is True
    assert body["timeout"] == 60_000  # SnapAPI's maximum
    assert not any("_" in name for name in body)


@pytest.mark.parametrize("base", [None, "", "  "])
def test_base_url_is_required(base: str | None) -> None:
    with pytest.raises(InvalidSpec) as info:
        SnapApiProvider(base_url=base, api_key=KEY)
    assert info.value.field == "api_base"
    assert "several unrelated services" in str(info.value) and "api.snapapi.pics" in str(info.value)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="Plain http"):
        SnapApiProvider(base_url="http://api.snapapi.pics", api_key=KEY)


# ---------------------------------------------------------------------- contract
def test_capture_maps_options_and_returns_the_image(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    spec = make_spec("snapapi", scale=1.5, full_page=True, format="jpeg", quality=90, delay_ms=700,
                     dark_mode=True, block_ads=True, wait_until="networkidle")
    result = harness.capture(SnapApiProvider, spec)
    rec = fake.last("/v1/screenshot")
    assert rec.headers["x-api-key"] == KEY
    assert rec.params["deviceScaleFactor"] == 1.5 and rec.params["fullPage"] is True
    assert rec.params["delay"] == 700 and rec.params["waitUntil"] == "networkidle"
    assert rec.params["darkMode"] is True and rec.params["blockAds"] is True
    assert (result.media_type, result.width, result.height) == ("image/jpeg", 600, 750)
    assert result.metadata["ratelimit_limit"] == "5" and result.metadata["ratelimit_window"] == "1s"


def test_wrong_key_is_an_auth_error(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(SnapApiProvider, make_spec("snapapi"), api_key="wrong")
    assert "API key is invalid" in str(info.value) and "Settings" in info.value.hint
    assert fake.hits("/v1/screenshot") == 1


def test_quota_402_is_not_retried_and_says_when_it_resets(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    fake.push(fake.quota_exceeded())
    with pytest.raises(QuotaExceeded) as info:
        harness.capture(SnapApiProvider, make_spec("snapapi"))
    assert "Monthly quota exceeded" in str(info.value) and "2026-12-01" in info.value.hint
    assert fake.hits("/v1/screenshot") == 1 and harness.clock.sleeps == []


def test_rate_limited_uses_retry_after(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    fake.push(fake.rate_limited(retry_after=2))
    assert harness.capture(SnapApiProvider, make_spec("snapapi")).width == 400
    assert fake.hits("/v1/screenshot") == 2 and 2.0 in harness.clock.sleeps


def test_content_check_failed_is_a_page_error(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    fake.push(fake.error(422, "CONTENT_CHECK_FAILED", "The page answered HTTP 404"))
    with pytest.raises(PageLoadError, match="404"):
        harness.capture(SnapApiProvider, make_spec("snapapi"))
    assert fake.hits("/v1/screenshot") == 1


def test_usage_endpoint(harness: Harness) -> None:
    fake = SnapApiFake(harness.server)
    assert harness.usage(SnapApiProvider) == {"used": "12", "limit": "5000", "remaining": "4988",
                                              "resets": "2026-12-01T00:00:00Z"}
    assert fake.last("/v1/usage").headers["x-api-key"] == KEY


def test_honours_every_capture_option() -> None:
    spec = make_spec("snapapi", scale=3.0, format="pdf", full_page=True, dark_mode=True, block_ads=True,
                     hide_cookie_banners=True, delay_ms=10_000, wait_until="networkidle",
                     hide_selectors=(".x",), css="a{}", js="1", user_agent="UA")
    assert SnapApiProvider.capabilities.problems(spec) == []
