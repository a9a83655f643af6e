"""SnapSharp adapter: request mapping (pure) and the contract against a loopback SnapSharp."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.snapsharp import SnapSharpProvider, build_request
from shotdesk.core.errors import AuthError, PlanRequired, QuotaExceeded, Unsupported
from tests.contract.fakes import KEY, SnapSharpFake
from tests.contract.harness import TARGET, Harness, make_spec
from tests.helpers.images import open_image

BASE = "https://api.snapsharp.dev"


def built(spec_kw: dict[str, object]) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("snapsharp", **spec_kw), base_url=BASE, api_key=KEY)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_sends_every_parameter_explicitly_as_get_query() -> None:
    req = built({})
    assert req.method == "GET"
    assert str(req.url).startswith(f"{BASE}/v1/screenshot?")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert dict(req.url.params) == {
        "url": TARGET, "width": "400", "height": "300", "format": "png", "full_page": "false",
        "retina": "false", "delay": "0", "wait_until": "load", "dark_mode": "false",
        "block_ads": "false", "block_cookie_banners": "false",
    }


def test_units_and_names_mapped() -> None:
    req = built({"format": "jpeg", "quality": 65, "scale": 2.0, "delay_ms": 1500,
                 "wait_until": "networkidle", "hide_cookie_banners": True, "user_agent": "Bot/1"})
    params = dict(req.url.params)
    assert params["retina"] == "true"
    assert params["delay"] == "1500"  # milliseconds, unchanged
    assert params["quality"] == "65"
    assert params["wait_until"] == "networkidle"
    assert params["block_cookie_banners"] == "true"
    assert params["user_agent"] == "Bot/1"
    assert "scale" not in params and "hide_cookie_banners" not in params


def test_css_js_and_hidden_selectors_switch_to_post_json() -> None:
    req = built({"css": "body{margin:0}", "js": "document.title='x'", "hide_selectors": (".ad", "#chat")})
    assert req.method == "POST"
    body = json.loads(req.content)
    assert body["css"] == "body{margin:0}" and body["js"] == "document.title='x'"
    assert body["hide_selectors"] == [".ad", "#chat"]
    assert body["full_page"] is False and body["width"] == 400  # native JSON types
    assert "access_key" not in body and KEY not in req.content.decode()


@pytest.mark.parametrize(("options", "named"), [
    ({"selector": "#hero"}, "selector"),
    ({"format": "pdf"}, "format pdf"),
    ({"scale": 1.5}, "scale 1.5"),
    ({"scale": 3.0}, "scale 3"),
])
def test_unsupported_options_are_refused_by_the_builder(options: dict[str, object], named: str) -> None:
    with pytest.raises(Unsupported) as info:
        built(options)
    assert named in str(info.value)


# ---------------------------------------------------------------------- contract
def test_capture_maps_options_and_returns_the_image(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    spec = make_spec("snapsharp", format="jpeg", quality=70, scale=2.0, full_page=True, delay_ms=250,
                     wait_until="networkidle", dark_mode=True, block_ads=True)
    result = harness.capture(SnapSharpProvider, spec)

    rec = fake.last("/v1/screenshot")
    assert rec.method == "GET"
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.params["format"] == "jpeg" and rec.params["quality"] == "70"
    assert rec.params["retina"] == "true" and rec.params["full_page"] == "true"
    assert rec.params["delay"] == "250" and rec.params["wait_until"] == "networkidle"
    assert rec.params["dark_mode"] == "true" and rec.params["block_ads"] == "true"
    # 400 × (300 + 200 full-page) CSS px at 2× → 800 × 1000 JPEG
    assert (result.width, result.height, result.media_type) == (800, 1000, "image/jpeg")
    assert open_image(result.data).size == (800, 1000)
    assert result.provider == "snapsharp"
    assert result.metadata["cache"] == "MISS"
    assert result.metadata["render_ms"] == "812"
    assert result.metadata["ratelimit_limit"] == "30"
    assert result.metadata["request_id"] == "req_ss_42"


def test_account_defaults_do_not_leak_into_a_plain_capture(harness: Harness) -> None:
    # The fake's dashboard defaults say webp + full page; explicit parameters must win.
    SnapSharpFake(harness.server)
    result = harness.capture(SnapSharpProvider, make_spec("snapsharp"))
    assert (result.media_type, result.width, result.height) == ("image/png", 400, 300)


def test_post_json_capture(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    result = harness.capture(SnapSharpProvider, make_spec("snapsharp", css="h1{color:red}",
                                                          hide_selectors=(".cookie",)))
    rec = fake.last("/v1/screenshot")
    assert rec.method == "POST" and rec.params["hide_selectors"] == [".cookie"]
    assert result.width == 400


def test_wrong_key_is_an_auth_error_without_retry(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(SnapSharpProvider, make_spec("snapsharp"), api_key="sk_live_wrong")
    assert "key" in str(info.value).lower() and "Settings" in info.value.hint
    assert "Invalid or missing API key" in str(info.value)
    assert fake.hits("/v1/screenshot") == 1


def test_missing_key_fails_before_any_request(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    with pytest.raises(AuthError, match="No API key"):
        harness.capture(SnapSharpProvider, make_spec("snapsharp"), api_key=None)
    assert fake.hits("/v1/screenshot") == 0


def test_quota_exceeded_429_is_not_retried(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    fake.push(fake.quota_exceeded())
    with pytest.raises(QuotaExceeded) as info:
        harness.capture(SnapSharpProvider, make_spec("snapsharp"))
    assert "quota" in str(info.value).lower()
    assert fake.hits("/v1/screenshot") == 1
    assert harness.clock.sleeps == []


def test_rate_limited_429_uses_the_body_retry_after(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    fake.push(fake.rate_limited(retry_after=2))
    result = harness.capture(SnapSharpProvider, make_spec("snapsharp"))
    assert result.width == 400
    assert fake.hits("/v1/screenshot") == 2
    assert 2.0 in harness.clock.sleeps


def test_plan_required_names_the_plan(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    fake.push(fake.error(403, "plan_required", "Full-page capture needs a paid plan",
                         required_plan="starter"))
    with pytest.raises(PlanRequired) as info:
        harness.capture(SnapSharpProvider, make_spec("snapsharp", full_page=True))
    assert "starter" in str(info.value)
    assert fake.hits("/v1/screenshot") == 1


def test_unsupported_option_sends_nothing(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    with pytest.raises(Unsupported, match="selector"):
        harness.capture(SnapSharpProvider, make_spec("snapsharp", selector="#hero"))
    assert fake.received == []


def test_usage_endpoint(harness: Harness) -> None:
    fake = SnapSharpFake(harness.server)
    lines = harness.usage(SnapSharpProvider)
    assert lines == {"plan": "starter", "used": "12", "limit": "5000", "remaining": "4988",
                     "resets": "2026-12-01T00:00:00Z"}
    assert fake.last("/v1/usage").headers["authorization"] == f"Bearer {KEY}"


def test_usage_with_a_wrong_key(harness: Harness) -> None:
    SnapSharpFake(harness.server)
    with pytest.raises(AuthError):
        harness.usage(SnapSharpProvider, api_key="sk_live_wrong")
