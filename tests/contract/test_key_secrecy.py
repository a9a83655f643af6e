"""The API key never shows: not in messages, metadata, results or logs — even for query-string keys.

ScreenshotOne and ApiFlash carry the key in the URL (``access_key=``), the riskiest contract; the
header-key providers are checked for the same on their error paths.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import pytest

from shotdesk.capture.providers.apiflash import ApiFlashProvider
from shotdesk.capture.providers.screenshotone import ScreenshotOneProvider
from shotdesk.capture.providers.snapapi import SnapApiProvider
from shotdesk.capture.providers.snapsharp import SnapSharpProvider
from shotdesk.capture.providers.urlbox import UrlboxProvider
from shotdesk.core.errors import CaptureError
from tests.contract.fakes import (
    KEY,
    ApiFlashFake,
    FakeApi,
    ScreenshotOneFake,
    SnapApiFake,
    SnapSharpFake,
    UrlboxFake,
    html_page,
    json_response,
)
from tests.contract.harness import Harness, make_spec
from tests.helpers.webserver import Response

WRONG_KEY = "sk_live_WRONGKEY_0123456789"
QUERY_KEY = [(ScreenshotOneProvider, ScreenshotOneFake, "/take"),
             (ApiFlashProvider, ApiFlashFake, "/v1/urltoimage")]
ALL = [*QUERY_KEY, (SnapSharpProvider, SnapSharpFake, "/v1/screenshot"),
       (UrlboxProvider, UrlboxFake, "/v1/render/sync"), (SnapApiProvider, SnapApiFake, "/v1/screenshot")]


def echo_errors(fake: FakeApi, route: str) -> list[Response]:
    """Error answers that quote the request back, key included, as careless servers do."""
    url = f"{fake.base_url}{route}?access_key={KEY}&url=https%3A%2F%2Fexample.com"
    return [
        json_response(400, {"is_successful": False, "error_code": "request_not_valid",
                            "error_message": f"Bad request {url}", "message": f"Bad request {url}"}),
        json_response(500, {"error_code": "internal_application_error", "message": f"crashed on {route}?"
                            f"access_key={KEY}", "error_message": f"key {KEY} failed"}),
        Response(502, f"upstream error for access_key={KEY}".encode(), content_type="text/plain"),
        html_page(),
    ]


def texts_of(error: CaptureError) -> str:
    return " | ".join([str(error), repr(error), error.message, error.hint, repr(error.args)])


def assert_no_key(where: str, text: str) -> None:
    assert KEY not in text, f"the API key leaked into {where}: {text[:300]}"


def exercise(harness: Harness, cls: Any, fake: FakeApi, route: str) -> list[Any]:
    """A successful capture, six failing ones whose answers quote the key, and a failing usage call.

    Returns the result followed by every error raised.
    """
    spec = make_spec(cls.id, format="jpeg", delay_ms=1000)
    outcomes: list[Any] = [harness.capture(cls, spec)]
    assert fake.last(route).q("access_key") == KEY  # the key did travel: the contract needs it
    for answer in echo_errors(fake, route):
        fake.push(answer, answer, answer)  # enough for every retry
        with pytest.raises(CaptureError) as info:
            harness.capture(cls, spec)
        outcomes.append(info.value)
        fake._queue.clear()
    fake.push(fake.quota_exceeded())  # type: ignore[attr-defined]
    with pytest.raises(CaptureError) as quota:
        harness.capture(cls, spec)
    outcomes.append(quota.value)
    with pytest.raises(CaptureError) as auth:  # a wrong key must not show either
        harness.capture(cls, spec, api_key=WRONG_KEY)
    outcomes.append(auth.value)
    failing_usage = json_response(500, {"message": f"usage failed for {KEY}"})
    fake.push(failing_usage, failing_usage, failing_usage)
    with pytest.raises(CaptureError) as usage:
        harness.usage(cls)
    outcomes.append(usage.value)
    return outcomes


@pytest.mark.parametrize(("cls", "fake_cls", "route"), QUERY_KEY, ids=["screenshotone", "apiflash"])
def test_query_key_never_in_results_metadata_or_messages(harness: Harness, cls: Any,
                                                         fake_cls: type[FakeApi], route: str) -> None:
    result, *errors = exercise(harness, cls, fake_cls(harness.server), route)
    assert_no_key("the capture result", repr({k: v for k, v in asdict(result).items() if k != "data"}))
    assert_no_key("the metadata", repr(dict(result.metadata)))
    assert result.final_url is None
    assert len(errors) == 7
    for error in errors:
        assert_no_key(type(error).__name__, texts_of(error))
        assert WRONG_KEY not in texts_of(error)
    assert "Bad request" in str(errors[0]) and "access_key=***" in str(errors[0])


@pytest.mark.parametrize(("cls", "fake_cls", "route"), QUERY_KEY, ids=["screenshotone", "apiflash"])
def test_query_key_never_in_logs(harness: Harness, caplog: pytest.LogCaptureFixture, cls: Any,
                                 fake_cls: type[FakeApi], route: str) -> None:
    caplog.set_level(logging.DEBUG)
    exercise(harness, cls, fake_cls(harness.server), route)
    assert caplog.records, "expected log lines from the HTTP layer"
    for record in caplog.records:
        assert_no_key(f"log record {record.name}", record.getMessage())
    assert_no_key("the captured log text", caplog.text)


@pytest.mark.parametrize(("cls", "fake_cls", "route"), ALL,
                         ids=["screenshotone", "apiflash", "snapsharp", "urlbox", "snapapi"])
def test_error_bodies_quoting_the_key_are_masked(harness: Harness, cls: Any, fake_cls: type[FakeApi],
                                                 route: str) -> None:
    fake = fake_cls(harness.server)
    answer = json_response(400, {"error": {"code": "InvalidOptions", "message": f"bad key {KEY}"},
                                 "error_code": "request_not_valid", "error_message": f"bad key {KEY}",
                                 "message": f"bad key {KEY}"})
    fake.push(answer)
    with pytest.raises(CaptureError) as info:
        harness.capture(cls, make_spec(cls.id))
    assert_no_key(type(info.value).__name__, texts_of(info.value))
    assert "bad key ***" in str(info.value)
