"""Behaviour every hosted-API adapter shares, checked against each provider's loopback fake."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from shotdesk.capture.base import Capabilities, Provider
from shotdesk.capture.providers.apiflash import ApiFlashProvider
from shotdesk.capture.providers.hermes import HermesProvider
from shotdesk.capture.providers.screenshotone import ScreenshotOneProvider
from shotdesk.capture.providers.snapapi import SnapApiProvider
from shotdesk.capture.providers.snapsharp import SnapSharpProvider
from shotdesk.capture.providers.urlbox import UrlboxProvider
from shotdesk.core.errors import BadResponse, ProviderUnavailable, Unsupported
from tests.contract.fakes import (
    ApiFlashFake,
    FakeApi,
    HermesFake,
    ScreenshotOneFake,
    SnapApiFake,
    SnapSharpFake,
    UrlboxFake,
    html_page,
    json_response,
    render,
)
from tests.contract.harness import Harness, make_spec
from tests.helpers.images import make_image
from tests.helpers.webserver import Response


@dataclass(frozen=True)
class Case:
    cls: Any
    fake: type[FakeApi]
    route: str  # the capture route

    @property
    def id(self) -> str:
        return str(self.cls.id)


CASES = [
    Case(SnapSharpProvider, SnapSharpFake, "/v1/screenshot"),
    Case(ScreenshotOneProvider, ScreenshotOneFake, "/take"),
    Case(UrlboxProvider, UrlboxFake, "/v1/render/sync"),
    Case(ApiFlashProvider, ApiFlashFake, "/v1/urltoimage"),
    Case(HermesProvider, HermesFake, "/api/screenshot"),
    Case(SnapApiProvider, SnapApiFake, "/v1/screenshot"),
]
IDS = [c.id for c in CASES]

#: One option each provider refuses (ScreenshotOne and SnapAPI honour everything).
REFUSED: dict[str, dict[str, Any]] = {
    "snapsharp": {"selector": "#hero"},
    "urlbox": {"scale": 1.5},
    "apiflash": {"dark_mode": True},
    "hermes": {"css": "body{}"},
}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_class_attributes_for_the_registry(case: Case) -> None:
    cls = case.cls
    assert cls.id == case.id and isinstance(cls.label, str) and cls.label
    assert isinstance(cls.capabilities, Capabilities)
    assert cls.capabilities.needs_key == cls.needs_key
    assert cls.default_base_url is None or cls.default_base_url.startswith("https://")
    assert (cls.default_base_url is None) == (case.id == "snapapi")
    assert set(cls.capabilities.formats) <= {"png", "jpeg", "webp", "pdf"}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_is_a_provider_and_reports_progress(harness: Harness, case: Case) -> None:
    case.fake(harness.server)
    seen: list[tuple[float | None, str]] = []

    async def go(provider: Any) -> Any:
        assert isinstance(provider, Provider)
        return await provider.capture(make_spec(case.id), lambda f, text: seen.append((f, text)))

    result = harness.run(case.cls, go)
    assert result.provider == case.id and (result.width, result.height) == (400, 300)
    assert seen[0][0] is None and seen[-1] == (1.0, "Done")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_html_page_with_status_200_is_refused(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    fake.push(html_page())
    with pytest.raises(BadResponse) as info:
        harness.capture(case.cls, make_spec(case.id))
    assert "web page (HTML)" in str(info.value) and "nothing was saved" in info.value.hint
    assert fake.hits(case.route) == 1  # not retried


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rate_limited_429_with_retry_after_then_success(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    fake.push(fake.rate_limited(retry_after=1))  # type: ignore[attr-defined]
    result = harness.capture(case.cls, make_spec(case.id))
    assert (result.width, result.height) == (400, 300)
    assert fake.hits(case.route) == 2
    # waited what Retry-After said (the limiter may add a small safety margin), nothing more
    assert harness.clock.sleeps[0] == 1.0 and sum(harness.clock.sleeps) < 1.5, harness.clock.sleeps


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_503_twice_then_success(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    unavailable = json_response(503, {"message": "maintenance"})
    fake.push(unavailable, unavailable)
    result = harness.capture(case.cls, make_spec(case.id))
    assert result.width == 400
    assert fake.hits(case.route) == 3
    assert len(harness.clock.sleeps) == 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_503_every_time_gives_up(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    unavailable = json_response(503, {"message": "maintenance"})
    fake.push(unavailable, unavailable, unavailable, unavailable)
    with pytest.raises(ProviderUnavailable, match="3 attempts"):
        harness.capture(case.cls, make_spec(case.id))
    assert fake.hits(case.route) == 3


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_truncated_image_is_refused(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    png = make_image(400, 300, (10, 200, 10), "PNG")
    fake.push(Response(200, png[: len(png) // 2], content_type="image/png"))
    with pytest.raises(BadResponse, match="damaged or truncated"):
        harness.capture(case.cls, make_spec(case.id))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wrong_format_is_refused(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    fake.push(render("webp", 400, 300))
    with pytest.raises(BadResponse, match="WEBP although PNG"):
        harness.capture(case.cls, make_spec(case.id, format="png"))


@pytest.mark.parametrize("case", [c for c in CASES if c.id in REFUSED], ids=lambda c: c.id)
def test_unsupported_option_is_refused_without_a_request(harness: Harness, case: Case) -> None:
    fake = case.fake(harness.server)
    spec = make_spec(case.id, **REFUSED[case.id])
    assert case.cls.capabilities.problems(spec) or case.id == "urlbox"  # urlbox: the 1×/2× rule
    with pytest.raises(Unsupported) as info:
        harness.capture(case.cls, spec)
    assert case.cls.label in str(info.value) and "local engine" in info.value.hint
    assert fake.received == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unreachable_server(harness: Harness, case: Case) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="Could not reach"):
        harness.capture(case.cls, make_spec(case.id), base_url=f"http://127.0.0.1:{port}")
