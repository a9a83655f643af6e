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

import asyncio
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import SHORT_TIMEOUT, make_client, request, send
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, redact_text
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
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
from shotdesk.core.media import check_media
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

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
    return math.ceil(delay_ms / 1000)


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
        return "true" if value else "false"
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


def response_metadata(headers: Mapping[str, str], secrets: tuple[str | None, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    for header, key in META_HEADERS.items():
        value = headers.get(header)
        if value is not None and value.strip():
            out[key] = redact_text(value.strip()[:200], secrets)
    return out


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /usage`` [S1-usage]."""
    if not isinstance(data, dict):
        raise BadResponse(f"{LABEL} sent an unreadable usage report", hint="try again later")
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
        reset = _nanoseconds_to_text(conc.get("reset"))
        if reset:
            out["concurrency_resets"] = reset
    return out


def _nanoseconds_to_text(value: Any) -> str | None:
    """``concurrency.reset`` is a Unix time in nanoseconds [S1-usage]."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    for scale in (1e9, 1e6, 1e3, 1.0):
        if number >= 1e9 * scale:
            number /= scale
            break
    try:
        return datetime.fromtimestamp(number, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return None


class ScreenshotOneProvider:
    """ScreenshotOne adapter (no Qt). The access key travels in the query: always redacted."""

    id: ClassVar[str] = ID
    label: ClassVar[str] = LABEL
    needs_key: ClassVar[bool] = True
    default_base_url: ClassVar[str | None] = DEFAULT_BASE_URL
    capabilities: ClassVar[Capabilities] = CAPABILITIES

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None, policy: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None) -> None:
        self.base_url = check_base_url(base_url or DEFAULT_BASE_URL, provider=LABEL)
        self._key = api_key or None
        self._client = client or make_client(base_url=self.base_url)
        self._owns_client = client is None
        self._policy = policy
        # No rate-limit headers are documented: bound concurrency only, no probing.
        self._limiter = limiter or RateLimiter(provider=LABEL, probe_first=False)

    def _require_key(self) -> str:
        if not self._key:
            raise AuthError(f"No access key is set for {LABEL}",
                            hint="add it in Settings or with `shotdesk key set screenshotone`")
        return self._key

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        check_spec(spec)
        key = self._require_key()
        secrets = (key,)
        if progress:
            progress(None, f"Rendering at {LABEL}…")
        read = max(100.0, timeout_seconds(spec.timeout_s) + 15.0)
        timeout = httpx.Timeout(read, connect=10.0, write=30.0, pool=60.0)

        def build() -> httpx.Request:
            req = build_request(self._client, spec, base_url=self.base_url, api_key=key)
            req.extensions["timeout"] = timeout.as_dict()
            return req

        response = await send(self._client, build, provider=LABEL, policy=self._policy,
                              limiter=self._limiter, secrets=secrets,
                              classify=lambda r: classify(r, secrets=secrets))
        info = await asyncio.to_thread(check_media, response.content, expected=spec.format,
                                       content_type=response.headers.get("content-type"), source=LABEL)
        if progress:
            progress(1.0, "Done")
        return CaptureResult(data=response.content, media_type=info.media_type, width=info.width,
                             height=info.height, provider=ID,
                             metadata=response_metadata(response.headers, secrets))

    async def usage(self) -> dict[str, str]:
        """Screenshots used / available and the concurrency bucket from ``GET /usage``."""
        key = self._require_key()
        secrets = (key,)
        response = await request(
            self._client, "GET", f"{self.base_url}/usage", provider=LABEL, params={"access_key": key},
            timeout=SHORT_TIMEOUT, policy=self._policy, secrets=secrets,
            classify=lambda r: classify(r, secrets=secrets))
        try:
            data = response.json()
        except ValueError:
            data = None
        return usage_lines(data)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
