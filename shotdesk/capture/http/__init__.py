"""HTTP plumbing shared by every API adapter (no Qt): client factory, retries, rate limits, errors.

Start with :mod:`shotdesk.capture.http.client` — its docstring is the guide for adapter authors.

* :func:`make_client`, :func:`request`, :func:`send` — client factory and the retrying request
  helpers; the only place httpx exceptions are caught.
* :class:`RetryPolicy` / :class:`RetryDecision` — the pure retry decision.
* :class:`RateLimiter` — per-provider concurrency bound and header-fed request budget.
* :func:`error_for_response`, :func:`parse_error_body`, :func:`make_error` — response → typed error.
* :func:`redact_url`, :func:`redact_text`, :func:`check_base_url` — keys out of logs; https
  unless loopback.
"""

from __future__ import annotations

from shotdesk.capture.http.client import (
    DEFAULT_POLICY,
    DEFAULT_TIMEOUT,
    SHORT_TIMEOUT,
    USER_AGENT,
    Classifier,
    make_client,
    request,
    send,
    transport_error,
)
from shotdesk.capture.http.errors import ErrorBody, error_for_response, make_error, parse_error_body
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryDecision, RetryPolicy, parse_reset, parse_retry_after
from shotdesk.capture.http.urls import check_base_url, redact_text, redact_url, same_origin

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_TIMEOUT",
    "SHORT_TIMEOUT",
    "USER_AGENT",
    "Classifier",
    "ErrorBody",
    "RateLimiter",
    "RetryDecision",
    "RetryPolicy",
    "check_base_url",
    "error_for_response",
    "make_client",
    "make_error",
    "parse_error_body",
    "parse_reset",
    "parse_retry_after",
    "redact_text",
    "redact_url",
    "request",
    "same_origin",
    "send",
    "transport_error",
]
