"""Response → typed error, error-body shapes, URL redaction and the https-unless-loopback rule."""

from __future__ import annotations

import httpx
import pytest

from shotdesk.capture.http.errors import error_for_response, parse_error_body
from shotdesk.capture.http.urls import check_base_url, redact_text, redact_url
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureTimeout,
    InvalidRequest,
    InvalidSpec,
    PlanRequired,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    SelectorNotFound,
)

KEY = "sk-live-SECRET-0123456789"


def resp(status: int, body: object = None, *, text: str | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", f"https://api.example/take?access_key={KEY}&url=x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"error": "rate_limited", "message": "Too many requests", "status": 429}, "rate_limited",
     "Too many requests"),
    ({"detail": "Job not found"}, None, "Job not found"),
    ({"detail": [{"loc": ["body", "width"], "msg": "ensure this value is <= 3840", "type": "x"}]},
     None, "width: ensure this value is <= 3840"),
    ({"error": {"code": "INVALID_URL", "message": "The URL is invalid"}}, "INVALID_URL",
     "The URL is invalid"),
    ({"is_successful": False, "error_code": "selector_not_found", "error_message": "No element"},
     "selector_not_found", "No element"),
    ({"message": "Daily limit reached"}, None, "Daily limit reached"),
])
def test_error_body_shapes(body, code, message):
    parsed = parse_error_body(resp(400, body))
    assert parsed.code == code
    assert parsed.message == message


def test_plain_text_body_is_the_message_and_html_is_dropped():
    assert parse_error_body(resp(500, text="upstream exploded")).message == "upstream exploded"
    html = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    assert parse_error_body(resp(502, text=html)).message is None


def test_retry_after_from_the_json_body():
    body = {"error": {"code": "RATE_LIMITED", "message": "slow", "details": {"retryAfter": 12}}}
    assert parse_error_body(resp(429, body)).retry_after == 12
    assert parse_error_body(resp(429, {"error": "rate_limited", "retry_after": 30})).retry_after == 30


@pytest.mark.parametrize(("status", "body", "kind"), [
    (400, {"detail": "bad width"}, InvalidRequest),
    (422, {"detail": []}, InvalidRequest),
    (404, None, InvalidRequest),
    (401, {"error": "unauthorized", "message": "Invalid API key"}, AuthError),
    (403, {"error": "forbidden"}, AuthError),
    (403, {"error": "plan_required", "message": "Upgrade to growth"}, PlanRequired),
    (402, {"error": {"code": "QUOTA_EXCEEDED", "message": "Monthly quota"}}, QuotaExceeded),
    (429, {"error": "quota_exceeded", "message": "Monthly quota exceeded"}, QuotaExceeded),
    (400, {"error_code": "screenshots_limit_reached", "error_message": "limit"}, QuotaExceeded),
    (429, {"error": "rate_limited"}, RateLimited),
    (429, None, RateLimited),
    (408, None, CaptureTimeout),
    (504, None, CaptureTimeout),
    (500, None, ProviderUnavailable),
    (503, {"error": "queue_unavailable"}, ProviderUnavailable),
    (302, None, BadResponse),
])
def test_status_and_code_classification(status, body, kind):
    err = error_for_response(resp(status, body), provider="Foo")
    assert type(err) is kind
    assert err is not None and err.message.startswith(("Foo", "The"))


def test_2xx_is_no_error():
    assert error_for_response(resp(200, {"ok": True}), provider="Foo") is None


def test_auth_error_tells_to_check_the_key():
    err = error_for_response(resp(401, {"error": "unauthorized"}), provider="Foo")
    assert isinstance(err, AuthError)
    assert "check your API key" in str(err)


def test_rate_limited_carries_retry_after_from_the_header():
    err = error_for_response(resp(429, {"error": "rate_limited"}, headers={"Retry-After": "30"}),
                             provider="Foo")
    assert isinstance(err, RateLimited) and err.retry_after == 30


def test_provider_code_table_wins_over_status():
    codes = {"concurrency_limit_reached": RateLimited, "selector_not_found": SelectorNotFound}
    err = error_for_response(resp(400, {"error_code": "concurrency_limit_reached", "error_message": "x"}),
                             provider="ScreenshotOne", codes=codes)
    assert isinstance(err, RateLimited)
    err = error_for_response(resp(400, {"error_code": "SELECTOR_NOT_FOUND", "error_message": "no #x"}),
                             provider="ScreenshotOne", codes=codes)
    assert isinstance(err, SelectorNotFound) and "no #x" in err.message


def test_messages_never_contain_the_key_or_the_request_query():
    body = {"error": "unauthorized",
            "message": f"Key {KEY} is invalid for https://api.example/take?access_key={KEY}"}
    err = error_for_response(resp(401, body), provider="Foo", secrets=(KEY,))
    assert err is not None
    assert KEY not in str(err)
    assert "access_key=***" in str(err)
    err = error_for_response(resp(500), provider="Foo")
    assert err is not None and "access_key" not in str(err) and "url=x" not in str(err)


def test_long_messages_are_trimmed():
    err = error_for_response(resp(400, {"detail": "x" * 5000}), provider="Foo")
    assert err is not None and len(err.message) < 400


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example/take?access_key=abc123&url=https%3A%2F%2Fa.org%2F",
     "https://api.example/take?access_key=***&url=https%3A%2F%2Fa.org%2F"),
    ("https://a.example/x?api_key=1&token=2&signature=3&w=5",
     "https://a.example/x?api_key=***&token=***&signature=***&w=5"),
    ("https://a.example/x?Key=1&X-Api-Key=2&secret=3", "https://a.example/x?Key=***&X-Api-Key=***&secret=***"),
    ("https://user:pw@a.example/x", "https://***@a.example/x"),
    ("https://a.example/x?url=b&width=5", "https://a.example/x?url=b&width=5"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_text_masks_urls_and_literal_secrets():
    text = f"GET https://a.example/take?access_key={KEY}&w=1 failed; key was {KEY}"
    out = redact_text(text, [KEY])
    assert KEY not in out
    assert "access_key=***&w=1" in out


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example.com/", "https://api.example.com"),
    ("https://API.example.com/v1/", "https://api.example.com/v1"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://localhost:9/api/", "http://localhost:9/api"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_base_url_accepted(url, expected):
    assert check_base_url(url) == expected


@pytest.mark.parametrize(("url", "words"), [
    ("http://api.example.com", "Plain http://"),
    ("http://192.168.1.5:8000", "Plain http://"),
    ("ftp://api.example.com", "https://"),
    ("api.example.com", "https://"),
    ("https://me:pw@api.example.com", "user name or password"),
    ("https://api.example.com/?key=1", "'?'"),
    ("", "Set the address"),
    ("https://api.example.com:99999", "not a valid URL"),
])
def test_base_url_refused(url, words):
    with pytest.raises(InvalidSpec) as info:
        check_base_url(url, provider="Foo")
    assert words in str(info.value)
    assert info.value.field == "api_base"
