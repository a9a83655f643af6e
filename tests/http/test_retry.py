"""The retry policy by itself: which failures are retried, how long it waits, where it stops."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from shotdesk.capture.http.retry import RetryPolicy, parse_reset, parse_retry_after, server_delay
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureTimeout,
    InvalidRequest,
    PlanRequired,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)

NOW = 1_700_000_000.0


def policy(**kw) -> RetryPolicy:
    kw.setdefault("random", lambda: 1.0)
    kw.setdefault("wall_clock", lambda: NOW)
    return RetryPolicy(**kw)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retried(status):
    decision = policy().decide(1, status=status)
    assert decision.retry
    assert decision.delay == 0.5  # base delay × 2^0, jitter factor 1.0


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 405, 413, 422])
def test_permanent_statuses_are_never_retried(status):
    decision = policy().decide(1, status=status, headers={"Retry-After": "1"})
    assert not decision.retry


@pytest.mark.parametrize("error", [
    QuotaExceeded("quota used up"), AuthError(), PlanRequired("plan"), InvalidRequest("bad"),
    BadResponse("html"),
])
def test_permanent_errors_are_never_retried_even_on_429(error):
    assert not policy().decide(1, status=429, headers={"Retry-After": "1"}, error=error).retry


@pytest.mark.parametrize("error", [
    ProviderUnavailable("refused"), CaptureTimeout("slow"), RateLimited("busy"),
])
def test_transient_errors_are_retried(error):
    assert policy().decide(1, error=error).retry


def test_classified_rate_limit_on_400_is_retried():
    # ScreenshotOne says "concurrency_limit_reached" with a 400; the classifier's word wins.
    decision = policy().decide(1, status=400, error=RateLimited("concurrency", retry_after=2))
    assert decision.retry and decision.delay == 2


def test_unknown_exception_types_are_not_retried():
    assert not policy().decide(1, error=ValueError("bug")).retry


def test_backoff_is_exponential_and_capped():
    p = policy(max_attempts=10, max_total_s=1000)
    delays = [p.decide(n, status=503).delay for n in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize("r", [0.0, 0.25, 0.999])
def test_full_jitter_spreads_between_zero_and_the_ceiling(r):
    p = policy(random=lambda: r, max_attempts=10, max_total_s=1000)
    assert p.decide(3, status=503).delay == pytest.approx(r * 2.0)


def test_attempts_are_bounded():
    p = policy(max_attempts=3)
    assert p.decide(2, status=503).retry
    last = p.decide(3, status=503)
    assert not last.retry and last.reason == "attempts"


def test_total_time_is_bounded():
    p = policy(max_total_s=10)
    assert p.decide(1, elapsed=9.0, status=503).retry  # 9 + 0.5 fits
    assert not p.decide(1, elapsed=9.8, status=503).retry
    assert not p.decide(1, elapsed=5.0, status=429, headers={"Retry-After": "6"}).retry


@pytest.mark.parametrize(("header", "expected"), [
    ("7", 7.0),
    ("0", 0.0),
    ("1.5", 1.5),
    (formatdate(NOW + 12, usegmt=True), 12.0),   # HTTP date
    (formatdate(NOW - 30, usegmt=True), 0.0),    # in the past: go now
])
def test_retry_after_is_honoured(header, expected):
    decision = policy().decide(1, status=429, headers={"Retry-After": header})
    assert decision.retry
    assert decision.reason == "retry-after"
    assert decision.delay == pytest.approx(expected, abs=1e-6)


def test_retry_after_header_name_is_case_insensitive():
    assert policy().decide(1, status=503, headers={"retry-after": "3"}).delay == 3


@pytest.mark.parametrize("header", ["soon", "", "-5x", "nan", "inf"])
def test_unusable_retry_after_falls_back_to_backoff(header):
    decision = policy().decide(1, status=429, headers={"Retry-After": header})
    assert decision.retry and decision.reason == "backoff"


def test_too_long_retry_after_is_not_waited_for():
    decision = policy(max_server_delay=60).decide(1, status=429, headers={"Retry-After": "3600"})
    assert not decision.retry and decision.reason == "server delay too long"


def test_error_retry_after_beats_headers():
    err = RateLimited("slow down", retry_after=4)
    assert policy().decide(1, status=429, headers={"Retry-After": "9"}, error=err).delay == 4


@pytest.mark.parametrize(("header", "expected"), [
    (str(int(NOW + 20)), 20.0),          # Unix seconds (SnapSharp, SnapAPI, urlbox)
    (str(int((NOW + 20) * 1000)), 20.0),  # Unix milliseconds
    ("15", 15.0),                         # seconds to wait (IETF RateLimit-Reset)
    ("2.5", 2.5),
])
def test_x_ratelimit_reset_is_honoured_on_429(header, expected):
    decision = policy().decide(1, status=429, headers={"X-RateLimit-Reset": header})
    assert decision.retry and decision.delay == pytest.approx(expected)


def test_ratelimit_reset_is_ignored_on_a_5xx():
    decision = policy().decide(1, status=503, headers={"X-RateLimit-Reset": str(int(NOW + 40))})
    assert decision.reason == "backoff"


def test_parsers_directly():
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0
    assert parse_reset("2023-11-14T22:13:30Z", now=NOW) == pytest.approx(10.0)
    assert parse_reset(str(int((NOW + 3) * 1e9)), now=NOW) == pytest.approx(3.0)  # nanoseconds
    assert parse_reset("-1", now=NOW) is None
    assert server_delay(200, {}, None, now=NOW) is None
