"""HTTP response → typed error (DESIGN.md §4), shared by every adapter.

:func:`error_for_response` is the default classifier :func:`~shotdesk.capture.http.client.send`
uses: ``None`` for a 2xx, else the typed error for the status, refined by the error **code** in
the body (several providers use one status for quota and rate limit, or 400 for everything).
Adapters extend it with a ``codes`` table and wrap it in a one-line classifier::

    CODES = {"concurrency_limit_reached": RateLimited, "screenshots_limit_reached": QuotaExceeded,
             "access_key_invalid": AuthError, "selector_not_found": SelectorNotFound}

    def classify(response: httpx.Response) -> CaptureError | None:
        return error_for_response(response, provider="ScreenshotOne", codes=CODES, secrets=(key,))

:func:`parse_error_body` reads the common JSON error shapes: ``{error, message}``, ``{detail}``
(FastAPI, string or validation list), ``{error: {code, message}}``, ``{error_code,
error_message}``, ``{message}``. Messages quote the provider's own words (trimmed, with URLs
redacted and the given secrets masked), never the request URL or headers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from shotdesk.capture.http.retry import parse_retry_after
from shotdesk.capture.http.urls import redact_text
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureError,
    CaptureTimeout,
    InvalidRequest,
    PageLoadError,
    PlanRequired,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)

#: Longest provider message quoted to the user.
MESSAGE_LIMIT = 300

#: Error codes (lower-cased) that mean "quota used up for the period" whatever the status.
QUOTA_CODES = frozenset({
    "quota_exceeded", "quota_exhausted", "screenshots_limit_reached", "monthly_limit_reached",
    "limit_reached", "payment_required", "insufficient_credits", "out_of_credits",
})
#: Codes that mean "too many requests right now" (transient).
RATE_CODES = frozenset({"rate_limited", "rate_limit_exceeded", "too_many_requests",
                        "concurrency_limit_reached"})
#: Codes that mean "the plan does not include this".
PLAN_CODES = frozenset({"plan_required", "optionnotavailableonplan", "upgrade_required",
                        "feature_not_available"})


@dataclass(frozen=True)
class ErrorBody:
    """What a provider's error body said (all optional)."""

    code: str | None = None
    message: str | None = None
    retry_after: float | None = None


def parse_error_body(response: httpx.Response, *, secrets: Iterable[str | None] = ()) -> ErrorBody:
    """Read code, message and retry-after from a JSON error body; plain text is used as message.

    HTML bodies (proxy error pages) give no message: quoting them helps nobody.
    """
    secrets = tuple(secrets)
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError, httpx.ResponseNotRead):
        return ErrorBody()
    data: Any
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        code, message, retry_after = _from_mapping(data)
        return ErrorBody(_clean_code(code), _clean(message, secrets), retry_after)
    if data is None and text.strip():
        head = text.lstrip()[:200].lower()
        if head.startswith("<") or "<html" in head:
            return ErrorBody()
        return ErrorBody(message=_clean(text, secrets))
    if isinstance(data, str):
        return ErrorBody(message=_clean(data, secrets))
    return ErrorBody()


def _from_mapping(data: Mapping[str, Any]) -> tuple[Any, Any, float | None]:
    code: Any = None
    message: Any = None
    err = data.get("error")
    if isinstance(err, Mapping):  # {error: {code, message}} (urlbox, SnapAPI)
        code = err.get("code") or err.get("type")
        message = err.get("message") or err.get("msg")
        details = err.get("details")
        retry = _number(details.get("retryAfter") if isinstance(details, Mapping) else None)
    else:
        retry = None
        if isinstance(err, str):  # {error, message} (SnapSharp)
            code = err
    if message is None:
        message = data.get("message") or data.get("error_message") or data.get("msg")
    if code is None:
        code = data.get("error_code") or data.get("code")
    if message is None and "detail" in data:  # FastAPI
        message = _detail_text(data["detail"])
    if message is None and isinstance(err, str):
        message = err
    details_list = data.get("error_details")
    if isinstance(details_list, list) and details_list:
        extra = "; ".join(str(d.get("message")) for d in details_list
                          if isinstance(d, Mapping) and d.get("message"))
        if extra:
            message = f"{message}: {extra}" if message else extra
    if retry is None:
        retry = _number(data.get("retry_after", data.get("retryAfter")))
    return code, message, retry


def _detail_text(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, Mapping):
                loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query")]
                msg = str(item.get("msg", "invalid"))
                parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts) or None
    if isinstance(detail, Mapping):
        return str(detail.get("message") or detail.get("msg") or "") or None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and math.isfinite(number) else None


def _clean_code(code: Any) -> str | None:
    if code is None or isinstance(code, bool):
        return None
    text = str(code).strip()
    return text[:80] or None


def _clean(message: Any, secrets: Iterable[str | None]) -> str | None:
    if message is None:
        return None
    text = " ".join(str(message).split())
    if not text:
        return None
    text = redact_text(text, secrets)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1].rstrip() + "…"
    return text


def make_error(kind: type[CaptureError], message: str, *, hint: str = "",
               retry_after: float | None = None) -> CaptureError:
    """Instantiate any CaptureError subclass with a message (their constructors differ a little)."""
    if issubclass(kind, RateLimited):
        return kind(message, retry_after=retry_after, hint=hint)
    if issubclass(kind, AuthError):
        return kind(message, hint=hint) if hint else kind(message)
    try:
        return kind(message, hint=hint)
    except TypeError:
        return CaptureError(message, hint=hint)


def error_for_response(response: httpx.Response, *, provider: str,
                       codes: Mapping[str, type[CaptureError]] | None = None,
                       secrets: Iterable[str | None] = ()) -> CaptureError | None:
    """The typed error a response means, or ``None`` for a 2xx.

    ``provider`` is the label shown to people ("SnapSharp"); ``codes`` maps a provider's error
    codes (case-insensitive) to error classes and wins over the status; ``secrets`` are masked in
    any quoted message.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = parse_error_body(response, secrets=secrets)
    said = f": {body.message}" if body.message else ""
    code = (body.code or "").lower()
    table = {k.lower(): v for k, v in (codes or {}).items()}
    retry_after = body.retry_after
    if retry_after is None:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=time.time())
    if code and code in table:
        kind = table[code]
        return make_error(kind, _message_for(kind, provider, status, body), hint=_hint_for(kind),
                          retry_after=retry_after)
    if code in QUOTA_CODES or (status in (402, 429) and "quota" in code):
        return QuotaExceeded(f"{provider}: the plan's quota is used up{said}",
                             hint="wait for the quota period to reset or upgrade the plan; "
                                  "other providers (and the local engine) still work")
    if code in PLAN_CODES:
        return PlanRequired(f"{provider}: this option needs a higher plan{said}",
                            hint="remove the option or upgrade the plan")
    if code in RATE_CODES or status == 429:
        return RateLimited(f"{provider} is rate limiting requests{said}", retry_after=retry_after)
    if status == 401:
        return AuthError(f"{provider} rejected the API key{said}")
    if status == 403:
        return AuthError(f"{provider} refused access with this API key{said}",
                         hint="check your API key and plan in Settings (or `shotdesk key set`)")
    if status == 402:
        return QuotaExceeded(f"{provider} asks for payment: the plan's quota is used up{said}",
                             hint="wait for the quota period to reset or upgrade the plan")
    if status in (408, 504):
        return CaptureTimeout(f"{provider} timed out (HTTP {status}){said}",
                              hint="the page may be slow; try again or raise the timeout")
    if status >= 500:
        return ProviderUnavailable(f"{provider} is unavailable (HTTP {status}){said}",
                                   hint="the service has a problem; try again later")
    if status == 404:
        return InvalidRequest(f"{provider} answered 'not found' (HTTP 404){said}",
                              hint="check the provider's address (base URL) in Settings")
    if 300 <= status < 400:
        return BadResponse(f"{provider} redirected the request (HTTP {status}) instead of answering",
                           hint="check the provider's address (base URL) in Settings")
    if 400 <= status < 500:
        return InvalidRequest(f"{provider} refused the request (HTTP {status}){said}",
                              hint="change the options it names and capture again")
    return BadResponse(f"{provider} answered with an unexpected status (HTTP {status})")


def _message_for(kind: type[CaptureError], provider: str, status: int, body: ErrorBody) -> str:
    said = body.message or (body.code or f"HTTP {status}")
    if issubclass(kind, AuthError):
        return f"{provider} rejected the API key: {said}"
    if issubclass(kind, QuotaExceeded):
        return f"{provider}: the plan's quota is used up: {said}"
    if issubclass(kind, RateLimited):
        return f"{provider} is rate limiting requests: {said}"
    if issubclass(kind, PageLoadError):
        return f"{provider} could not load the page: {said}"
    return f"{provider}: {said}"


def _hint_for(kind: type[CaptureError]) -> str:
    if issubclass(kind, AuthError):
        return "check your API key in Settings (or `shotdesk key set`)"
    if issubclass(kind, QuotaExceeded):
        return "wait for the quota period to reset or upgrade the plan"
    if issubclass(kind, PlanRequired):
        return "remove the option or upgrade the plan"
    if issubclass(kind, RateLimited):
        return "wait a moment and capture again"
    if issubclass(kind, InvalidRequest):
        return "change the options it names and capture again"
    if kind.transient:
        return "try again later"
    return ""
