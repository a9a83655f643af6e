"""ScreenshotOne (https://api.screenshotone.com): ``GET /take`` with ``access_key`` in the query.

Contract: PROVIDERS.md §2. Mapping of the one :class:`CaptureSpec`:

* ``width``/``height`` → ``viewport_width``/``viewport_height``; ``scale`` →
  ``device_scale_factor`` (1–5, any value); ``format`` → ``png``/``jpg``/``webp``/``pdf``
  (ScreenshotOne's default is JPEG, so it is always sent); ``quality`` → ``image_quality``
  (jpeg/webp only).
* ``delay_ms`` → ``delay`` in **seconds**, rounded *up* to a whole second (the provider takes
  integers; waiting a little longer honours "wait at least"); ``timeout_s`` → ``timeout`` in
  seconds, at most 90 (the synchronous maximum).
* ``wait_until`` → ``wait_until=load`` or ``networkidle0`` (Playwright's "networkidle" is "no
  connections for 500 ms", i.e. puppeteer's networkidle0).
* ``selector`` → ``selector`` with ``error_on_selector_not_found=true`` (a missing element is
  an error, not silently the whole viewport); ``hide_selectors`` → repeated ``hide_selectors``;
  ``css`` → ``styles``; ``js`` → ``scripts``; ``hide_cookie_banners`` → ``block_cookie_banners``;
  ``block_ads``, ``dark_mode``, ``full_page``, ``user_agent`` → same names.
* ``GET`` with the query; ``POST`` JSON (``access_key`` in the body) when CSS or JS is set, since
  those may be too long for a URL. Either way the key never leaves this module unmasked:
  logged and stored URLs go through :func:`redact_url`, messages through ``redact_text``.
* Errors are classified by ``error_code``: ScreenshotOne answers **400** for a bad key, for the
  exhausted quota and for its per-minute concurrency bucket alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.providers._hosted import (
    HostedProvider,
    flag,
    json_object,
    json_or_none,
    unix_time_text,
    whole_seconds,
)
from shotdesk.core.errors import (
    AuthError,
    CaptureError,
    CaptureTimeout,
    FormatLimit,
    InvalidRequest,
    PageLoadError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    SelectorNotFound,
)
from shotdesk.core.spec import CaptureSpec

ID = "screenshotone"
LABEL = "ScreenshotOne"
DEFAULT_BASE_URL = "https://api.screenshotone.com"
#: Longest ``timeout`` of a synchronous render, seconds [S1-val].
MAX_TIMEOUT_S = 90

CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp", "pdf"}),
    options=ALL_OPTIONS,
    max_width=3840,
    max_height=2160,
    max_scale=3.0,
    needs_key=True,
    notes={"delay_ms": "ScreenshotOne waits in whole seconds: the delay is rounded up"},
)

#: ScreenshotOne's ``error_code`` values [S1-errlib].
CODES: Mapping[str, type[CaptureError]] = {
    "access_key_required": AuthError,
    "access_key_invalid": AuthError,
    "signature_is_required": AuthError,
    "signature_is_not_valid": AuthError,
    "screenshots_limit_reached": QuotaExceeded,
    "concurrency_limit_reached": RateLimited,
    "request_not_valid": InvalidRequest,
    "invalid_cookie_parameter": InvalidRequest,
    "invalid_header_parameter": InvalidRequest,
    "request_body_too_large": InvalidRequest,
    "invalid_storage_configuration": InvalidRequest,
    "storage_access_denied": InvalidRequest,
    "storage_returned_transient_error": ProviderUnavailable,
    "selector_not_found": SelectorNotFound,
    "resulting_image_too_large": FormatLimit,
    "name_not_resolved": PageLoadError,
    "script_triggers_redirect": PageLoadError,
    "network_error": PageLoadError,
    "host_returned_error": PageLoadError,
    "content_contains_specified_string": PageLoadError,
    "content_missing_specified_string": PageLoadError,
    "matched_failed_request": PageLoadError,
    "timeout_error": CaptureTimeout,
    "internal_application_error": ProviderUnavailable,
    "request_aborted": ProviderUnavailable,
    "temporary_unavailable": ProviderUnavailable,
}

META_HEADERS: Mapping[str, str] = {
    "x-request-id": "request_id",
    "x-screenshotone-http-response-status-code": "page_status",
}

_FORMATS: Mapping[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp", "pdf": "pdf"}
_WAIT: Mapping[str, str] = {"load": "load", "networkidle": "networkidle0"}


def delay_seconds(delay_ms: int) -> int:
    """Milliseconds → whole seconds, rounded up (1 ms → 1 s, 1000 → 1, 1500 → 2)."""
    return whole_seconds(delay_ms)


def timeout_seconds(timeout_s: float) -> int:
    return max(1, min(MAX_TIMEOUT_S, math.ceil(timeout_s)))


def check_spec(spec: CaptureSpec) -> None:
    CAPABILITIES.check(LABEL, spec)


def take_options(spec: CaptureSpec) -> dict[str, Any]:
    """The ``/take`` options for ``spec`` as native values (lists for array options), no key."""
    options: dict[str, Any] = {
        "url": spec.url,
        "format": _FORMATS[spec.format],
        "viewport_width": spec.width,
        "viewport_height": spec.height,
        "device_scale_factor": spec.scale,
        "full_page": spec.full_page,
        "delay": delay_seconds(spec.delay_ms),
        "timeout": timeout_seconds(spec.timeout_s),
        "wait_until": [_WAIT[spec.wait_until]],
        "dark_mode": spec.dark_mode,
        "block_ads": spec.block_ads,
        "block_cookie_banners": spec.hide_cookie_banners,
        "response_type": "by_format",
        "cache": False,
    }
    if spec.format in ("jpeg", "webp"):
        options["image_quality"] = spec.quality
    if spec.selector:
        options["selector"] = spec.selector
        options["error_on_selector_not_found"] = True
    if spec.hide_selectors:
        options["hide_selectors"] = list(spec.hide_selectors)
    if spec.css:
        options["styles"] = spec.css
    if spec.js:
        options["scripts"] = spec.js
    if spec.user_agent:
        options["user_agent"] = spec.user_agent
    return options


def _query_value(value: Any) -> str | list[str]:
    if isinstance(value, bool):
        return flag(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str) -> httpx.Request:
    """The ``/take`` request for ``spec`` (pure: builds, never sends). Contains the key."""
    check_spec(spec)
    options = take_options(spec)
    url = f"{base_url}/take"
    if spec.css or spec.js:
        return client.build_request("POST", url, json={"access_key": api_key, **options})
    query: dict[str, Any] = {"access_key": api_key}
    query.update({k: _query_value(v) for k, v in options.items()})
    return client.build_request("GET", url, params=query)


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = ()) -> CaptureError | None:
    """``None`` for a 2xx, else the typed error ScreenshotOne's ``error_code`` means."""
    error = error_for_response(response, provider=LABEL, codes=CODES, secrets=secrets)
    if isinstance(error, AuthError):
        error.hint = "check your ScreenshotOne access key in Settings (or `shotdesk key set screenshotone`)"
    elif isinstance(error, QuotaExceeded):
        error.hint = ("the plan's screenshots are used up until the next period; "
                      "other providers and the local engine still work")
    return error


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /usage`` [S1-usage]."""
    data = json_object(data, provider=LABEL)
    out: dict[str, str] = {}
    if data.get("used") is not None:
        out["used"] = str(data["used"])
    if data.get("total") is not None:
        out["limit"] = str(data["total"])
    if data.get("available") is not None:
        out["remaining"] = str(data["available"])
    conc = data.get("concurrency")
    if isinstance(conc, dict) and conc.get("limit") is not None:
        out["concurrency"] = f"{conc.get('remaining', '?')} of {conc['limit']} requests left this minute"
        reset = unix_time_text(conc.get("reset"))  # a Unix time in nanoseconds [S1-usage]
        if reset:
            out["concurrency_resets"] = reset
    return out


class ScreenshotOneProvider(HostedProvider):
    """ScreenshotOne adapter (no Qt). The access key travels in the query: always redacted."""

    id = ID
    label = LABEL
    needs_key = True
    default_base_url = DEFAULT_BASE_URL
    capabilities = CAPABILITIES
    build_request = build_request
    classify = classify
    meta_headers = META_HEADERS
    key_name = "access key"
    # No rate-limit headers are documented: bound concurrency only, no probing.
    probe_rate_limits = False


    def _read_timeout(self, spec: CaptureSpec) -> float:
        return max(100.0, timeout_seconds(spec.timeout_s) + 15.0)

    async def usage(self) -> dict[str, str]:
        """Screenshots used / available and the concurrency bucket from ``GET /usage``."""
        key = self._require_key()
        response = await self._usage_response("/usage", key, params={"access_key": key})
        return usage_lines(json_or_none(response))
