"""urlbox adapter: request mapping (pure) and the contract against a loopback urlbox."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.urlbox import UrlboxProvider, build_request
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    InvalidRequest,
    PlanRequired,
    QuotaExceeded,
    Unsupported,
)
from tests.contract.fakes import KEY, UrlboxFake, json_response, render
from tests.contract.harness import TARGET, Harness, make_spec
from tests.helpers.images import open_image

BASE = "https://api.urlbox.com"


def built(**spec_kw: object) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("urlbox", **spec_kw), base_url=BASE, api_key=KEY)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_body() -> None:
    req = built()
    assert req.method == "POST" and str(req.url) == f"{BASE}/v1/render/sync"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(req.content) == {
        "url": TARGET, "format": "png", "width": 400, "height": 300, "full_page": False,
        "retina": False, "wait_until": "loaded", "timeout": 30_000, "dark_mode": False,
        "block_ads": False, "hide_cookie_banners": False, "force": True, "fail_on_4xx": True,
        "fail_on_5xx": True, "response_type": "json",
    }


def test_names_and_units_mapped() -> None:
    body = json.loads(built(scale=2.0, format="jpeg", quality=72, delay_ms=1500, wait_until="networkidle",
                            hide_selectors=(".ad", "#chat"), selector="main", css="a{}", js="1",
                            user_agent="UA/1", timeout_s=2.0).content)
    assert body["retina"] is True and body["quality"] == 72
    assert body["delay"] == 1500  # milliseconds
    assert body["wait_until"] == "requestsfinished"
    assert body["hide_selector"] == ".ad, #chat"
    assert body["selector"] == "main" and body["css"] == "a{}" and body["js"] == "1"
    assert body["user_agent"] == "UA/1"
    assert body["timeout"] == 5_000  # urlbox's minimum


@pytest.mark.parametrize("scale", [1.5, 3.0])
def test_scale_other_than_1_or_2_is_refused(scale: float) -> None:
    with pytest.raises(Unsupported, match=f"scale {scale:g}"):
        built(scale=scale)


# ---------------------------------------------------------------------- contract
def test_capture_renders_then_downloads_following_redirects(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    spec = make_spec("urlbox", scale=2.0, full_page=True, format="jpeg", quality=70, delay_ms=300,
                     dark_mode=True, hide_cookie_banners=True)
    result = harness.capture(UrlboxProvider, spec)

    rec = fake.last("/v1/render/sync")
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.params["retina"] is True and rec.params["full_page"] is True
    assert rec.params["delay"] == 300 and rec.params["quality"] == 70
    assert rec.params["dark_mode"] is True and rec.params["hide_cookie_banners"] is True
    # the render link redirected to storage; neither got the key
    link = next(r for r in fake.received if r.route.startswith("/renders/"))
    stored = next(r for r in fake.received if r.route.startswith("/storage/"))
    assert "authorization" not in link.headers and "authorization" not in stored.headers
    assert (result.media_type, result.width, result.height) == ("image/jpeg", 800, 1000)
    assert open_image(result.data).size == (800, 1000)
    assert result.metadata["cache"] == "MISS"
    assert result.metadata["request_id"] == "ub-req-7"
    assert result.metadata["render_ms"] == "1234"
    assert result.metadata["renders_remaining"] == "1958"


def test_binary_answer_is_used_directly(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    image = render("png", 400, 300)
    image.headers["x-urlbox-cache-status"] = "HIT"
    fake.push(image)
    result = harness.capture(UrlboxProvider, make_spec("urlbox"))
    assert result.width == 400 and result.metadata["cache"] == "HIT"
    assert not any(r.route.startswith("/renders/") for r in fake.received)


def test_usage_comes_from_the_last_render_headers(harness: Harness) -> None:
    UrlboxFake(harness.server)

    async def capture_then_usage(provider: UrlboxProvider) -> tuple[dict[str, str], dict[str, str]]:
        before = await provider.usage()
        await provider.capture(make_spec("urlbox"))
        return before, await provider.usage()

    before, after = harness.run(UrlboxProvider, capture_then_usage)
    assert before["key"] == "accepted" and "capture once" in before["note"]
    assert after["used"] == "42" and after["limit"] == "2000" and after["remaining"] == "1958"
    assert after["resets"].startswith("Tue Dec 01 2026")


def test_wrong_key_is_an_auth_error(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(UrlboxProvider, make_spec("urlbox"), api_key="wrong")
    assert "Api Key does not exist" in str(info.value) and "Settings" in info.value.hint
    assert fake.hits("/v1/render/sync") == 1


def test_render_allowance_used_up_is_quota_not_rate_limit(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    fake.push(fake.quota_exceeded())
    with pytest.raises(QuotaExceeded) as info:
        harness.capture(UrlboxProvider, make_spec("urlbox"))
    assert "renders are used up" in str(info.value) and "Dec 01 2026" in str(info.value)
    assert fake.hits("/v1/render/sync") == 1 and harness.clock.sleeps == []


def test_option_not_on_plan(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    fake.push(fake.error(400, "OptionNotAvailableOnPlan", "retina is not available on your plan"))
    with pytest.raises(PlanRequired, match="retina is not available"):
        harness.capture(UrlboxProvider, make_spec("urlbox", scale=2.0))
    assert fake.hits("/v1/render/sync") == 1


def test_invalid_options(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    fake.push(fake.error(400, "InvalidOptions", "\"width\" must be less than or equal to 3000"))
    with pytest.raises(InvalidRequest, match="width"):
        harness.capture(UrlboxProvider, make_spec("urlbox"))
    assert fake.hits("/v1/render/sync") == 1


def test_sync_answer_without_render_url(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    fake.push(json_response(200, {"size": 10}))
    with pytest.raises(BadResponse, match="render link"):
        harness.capture(UrlboxProvider, make_spec("urlbox"))


def test_unsupported_option_sends_nothing(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    with pytest.raises(Unsupported):
        harness.capture(UrlboxProvider, make_spec("urlbox", scale=3.0))
    assert fake.received == []


def test_usage_before_any_render_checks_the_key_without_rendering(harness: Harness) -> None:
    fake = UrlboxFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.usage(UrlboxProvider, api_key="wrong")
    assert "Settings" in info.value.hint
    assert fake.hits("/v1/render/sync") == 0
    assert fake.hits(f"/v1/render/{fake.PROBE_ID}") == 1
