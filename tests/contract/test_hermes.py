"""Hermesforge-style adapter: request mapping (pure) and the contract against a loopback server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from shotdesk.capture.http.client import make_client
from shotdesk.capture.providers.hermes import HermesProvider, build_request
from shotdesk.core.errors import AuthError, QuotaExceeded, Unsupported
from tests.contract.fakes import KEY, HermesFake
from tests.contract.harness import TARGET, Harness, make_spec

BASE = "https://hermesforge.dev"


def built(api_key: str | None = KEY, **spec_kw: Any) -> httpx.Request:
    async def go() -> httpx.Request:
        async with make_client() as client:
            return build_request(client, make_spec("hermes", **spec_kw), base_url=BASE, api_key=api_key)
    return asyncio.run(go())


# ---------------------------------------------------------------------- pure request builder
def test_default_spec_query() -> None:
    req = built()
    assert req.method == "GET" and req.url.path == "/api/screenshot"
    assert dict(req.url.params) == {"url": TARGET, "format": "png", "width": "400", "height": "300",
                                    "full_page": "false"}
    assert req.headers["x-api-key"] == KEY


def test_anonymous_request_has_no_key_header() -> None:
    assert "x-api-key" not in built(api_key=None).headers


def test_full_page_and_networkidle() -> None:
    params = built(full_page=True, wait_until="networkidle", format="webp").url.params
    assert params["full_page"] == "true" and params["wait_for"] == "networkidle"
    assert params["format"] == "webp"


@pytest.mark.parametrize(("options", "named"), [
    ({"scale": 2.0}, "scale 2"),
    ({"delay_ms": 500}, "delay"),
    ({"dark_mode": True}, "dark-mode"),
    ({"block_ads": True}, "block-ads"),
    ({"selector": "#x"}, "selector"),
    ({"js": "1"}, "js"),
])
def test_undocumented_options_are_refused(options: dict[str, Any], named: str) -> None:
    with pytest.raises(Unsupported) as info:
        built(**options)
    assert named in str(info.value)


# ---------------------------------------------------------------------- contract
def test_capture_with_key(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    result = harness.capture(HermesProvider, make_spec("hermes", full_page=True, format="jpeg",
                                                       wait_until="networkidle"))
    rec = fake.last("/api/screenshot")
    assert rec.headers["x-api-key"] == KEY
    assert rec.q("full_page") == "true" and rec.q("format") == "jpeg" and rec.q("wait_for") == "networkidle"
    assert (result.media_type, result.width, result.height) == ("image/jpeg", 400, 500)


def test_anonymous_capture(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    result = harness.capture(HermesProvider, make_spec("hermes", format="pdf"), api_key=None)
    assert "x-api-key" not in fake.last("/api/screenshot").headers
    assert result.media_type == "application/pdf"


def test_wrong_key_is_an_auth_error(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    with pytest.raises(AuthError) as info:
        harness.capture(HermesProvider, make_spec("hermes"), api_key="wrong")
    assert "key" in str(info.value).lower() and "Settings" in info.value.hint
    assert fake.hits("/api/screenshot") == 1


def test_payment_required_402_is_quota_without_retry(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    fake.push(fake.payment_required())
    with pytest.raises(QuotaExceeded, match="402"):
        harness.capture(HermesProvider, make_spec("hermes"))
    assert fake.hits("/api/screenshot") == 1 and harness.clock.sleeps == []


def test_daily_cap_429_is_quota_and_suggests_a_key(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    fake.anonymous_left = 0
    with pytest.raises(QuotaExceeded) as info:
        harness.capture(HermesProvider, make_spec("hermes"), api_key=None)
    assert "Daily limit" in str(info.value) and "API key" in info.value.hint
    assert fake.hits("/api/screenshot") == 1


def test_unsupported_option_sends_nothing(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    with pytest.raises(Unsupported):
        harness.capture(HermesProvider, make_spec("hermes", dark_mode=True))
    assert fake.received == []


def test_usage_endpoint(harness: Harness) -> None:
    fake = HermesFake(harness.server)
    lines = harness.usage(HermesProvider)
    assert lines == {"tier": "free-key", "screenshots.used": "3", "screenshots.limit": "100",
                     "resets": "2026-11-22T00:00:00Z"}
    assert fake.last("/api/usage").headers["x-api-key"] == KEY


def test_usage_anonymous(harness: Harness) -> None:
    HermesFake(harness.server)
    assert harness.usage(HermesProvider, api_key=None)["tier"] == "anonymous"
