"""ApiFlash (https://api.apiflash.com): ``GET /v1/urltoimage`` with ``access_key`` in the query.

Contract: PROVIDERS.md §4. Mapping of the one :class:`CaptureSpec`:

* ``width``/``height``/``format``/``quality`` (jpeg/webp) and ``full_page``, ``css``, ``js``,
  ``user_agent`` → same names; ``scale`` → ``scale_factor`` (1 or 2 only); ``selector`` →
  ``element``; ``block_ads`` → ``no_ads``; ``hide_cookie_banners`` → ``no_cookie_banners``.
* ``delay_ms`` → ``delay`` in **seconds** (0–10), rounded *up* to a whole second.
* ``wait_until`` → ``page_loaded`` / ``network_idle`` (always sent: ApiFlash's default is
  network_idle, ShotDesk's is load).
* ``hide_selectors`` → CSS ``display: none !important`` rules appended to ``css`` (ApiFlash has
  no hide parameter but injects CSS; the result is the same).
* ``fresh=true`` always: ApiFlash caches captures for a day by default; ShotDesk keeps its own
  library cache and asks the provider only when it wants a new picture.
* Refused: ``dark_mode`` (no such parameter), PDF (images only), a scale other than 1 or 2.
* Errors: ApiFlash's error bodies are not documented (UNCONFIRMED); classified by status —
  401/403 key, 402 quota, 429 rate limit (quota when the message says so), 5xx transient.
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
from shotdesk.capture.http.errors import error_for_response, make_error
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, redact_text
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureError,
    QuotaExceeded,
    RateLimited,
)
from shotdesk.core.media import check_media
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

ID = "apiflash"
LABEL = "ApiFlash"
DEFAULT_BASE_URL = "https://api.apiflash.com"
MAX_DELAY_S = 10

CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp"}),
    options=ALL_OPTIONS - {"dark_mode"},
    max_width=3840,
    max_height=2160,
    max_scale=2.0,
    scales=frozenset({1.0, 2.0}),
    needs_key=True,
    notes={
        "dark_mode": "ApiFlash has no dark-mode option",
        "scale": "ApiFlash only renders at 1× or 2× (scale_factor)",
        "delay_ms": "ApiFlash waits in whole seconds: the delay is rounded up",
        "format": "ApiFlash renders png, jpeg and webp only (no pdf)",
    },
)

META_HEADERS: Mapping[str, str] = {
    "x-request-id": "request_id",
    "x-ratelimit-limit": "ratelimit_limit",
    "x-ratelimit-remaining": "ratelimit_remaining",
    "x-ratelimit-reset": "ratelimit_reset",
    "x-quota-limit": "quota_limit",
    "x-quota-remaining": "quota_remaining",
    "x-quota-reset": "quota_reset",
}

_WAIT: Mapping[str, str] = {"load": "page_loaded", "networkidle": "network_idle"}


def delay_seconds(delay_ms: int) -> int:
    """Milliseconds → whole seconds, rounded up, at most 10."""
    return min(MAX_DELAY_S, math.ceil(delay_ms / 1000))


def spec_problems(spec: CaptureSpec) -> list[str]:
    return CAPABILITIES.problems(spec)


def check_spec(spec: CaptureSpec) -> None:
    CAPABILITIES.check(LABEL, spec)


def hide_css(selectors: tuple[str, ...]) -> str:
    """CSS that hides ``selectors`` the way a hide parameter would."""
    return "\n".join(f"{sel} {{ display: none !important; }}" for sel in selectors)


def capture_params(spec: CaptureSpec) -> dict[str, str]:
    """The ``/v1/urltoimage`` query for ``spec``, without the key."""
    params: dict[str, str] = {
        "url": spec.url,
        "format": spec.format,
        "width": str(spec.width),
        "height": str(spec.height),
        "full_page": _flag(spec.full_page),
        "scale_factor": str(int(spec.scale)),
        "delay": str(delay_seconds(spec.delay_ms)),
        "wait_until": _WAIT[spec.wait_until],
        "no_ads": _flag(spec.block_ads),
        "no_cookie_banners": _flag(spec.hide_cookie_banners),
        "fresh": "true",
        "response_type": "image",
    }
    if spec.format in ("jpeg", "webp"):
        params["quality"] = str(spec.quality)
    if spec.selector:
        params["element"] = spec.selector
    css = "\n".join(part for part in (spec.css, hide_css(spec.hide_selectors)) if part)
    if css:
        params["css"] = css
    if spec.js:
        params["js"] = spec.js
    if spec.user_agent:
        params["user_agent"] = spec.user_agent
    return params


def _flag(value: bool) -> str:
    return "true" if value else "false"


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str) -> httpx.Request:
    """The capture request for ``spec`` (pure: builds, never sends). Contains the key.

    ``GET`` with the query; ``POST`` form data (ApiFlash takes forms, not JSON) when CSS or JS
    would make the URL long.
    """
    check_spec(spec)
    params = {"access_key": api_key, **capture_params(spec)}
    url = f"{base_url}/v1/urltoimage"
    if "css" in params or "js" in params:
        return client.build_request("POST", url, data=params)
    return client.build_request("GET", url, params=params)


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = ()) -> CaptureError | None:
    """``None`` for a 2xx, else the typed error (status-based: ApiFlash documents no codes)."""
    error = error_for_response(response, provider=LABEL, secrets=secrets)
    if isinstance(error, RateLimited) and "quota" in error.message.lower():
        return make_error(QuotaExceeded, error.message.replace("is rate limiting requests",
                                                               "says the quota is used up"),
                          hint="wait for the monthly quota to reset or upgrade the plan")
    if isinstance(error, AuthError):
        error.hint = "check your ApiFlash access key in Settings (or `shotdesk key set apiflash`)"
    return error


def response_metadata(headers: Mapping[str, str], secrets: tuple[str | None, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    for header, key in META_HEADERS.items():
        value = headers.get(header)
        if value is not None and value.strip():
            out[key] = redact_text(value.strip()[:200], secrets)
    return out


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /v1/urltoimage/quota`` (``{limit, remaining, reset}``)."""
    if not isinstance(data, dict):
        raise BadResponse(f"{LABEL} sent an unreadable quota report", hint="try again later")
    out: dict[str, str] = {}
    limit, remaining = data.get("limit"), data.get("remaining")
    if isinstance(limit, int | float) and isinstance(remaining, int | float):
        out["used"] = str(int(limit - remaining))
    if limit is not None:
        out["limit"] = str(limit)
    if remaining is not None:
        out["remaining"] = str(remaining)
    reset = _reset_text(data.get("reset"))
    if reset:
        out["resets"] = reset
    return out


def _reset_text(value: Any) -> str | None:
    """``reset`` is a Unix time (format UNCONFIRMED: s or ms accepted) or already a date."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)[:80] or None
    if not math.isfinite(number) or number <= 0:
        return None
    if number >= 1e12:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return None


class ApiFlashProvider:
    """ApiFlash adapter (no Qt). The access key travels in the query: always redacted."""

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
        self._limiter = limiter or RateLimiter(provider=LABEL, probe_first=False)

    def _require_key(self) -> str:
        if not self._key:
            raise AuthError(f"No access key is set for {LABEL}",
                            hint="add it in Settings or with `shotdesk key set apiflash`")
        return self._key

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        check_spec(spec)
        key = self._require_key()
        secrets = (key,)
        if progress:
            progress(None, f"Rendering at {LABEL}…")
        response = await send(
            self._client, lambda: build_request(self._client, spec, base_url=self.base_url, api_key=key),
            provider=LABEL, policy=self._policy, limiter=self._limiter, secrets=secrets,
            classify=lambda r: classify(r, secrets=secrets))
        info = await asyncio.to_thread(check_media, response.content, expected=spec.format,
                                       content_type=response.headers.get("content-type"), source=LABEL)
        if progress:
            progress(1.0, "Done")
        return CaptureResult(data=response.content, media_type=info.media_type, width=info.width,
                             height=info.height, provider=ID,
                             metadata=response_metadata(response.headers, secrets))

    async def usage(self) -> dict[str, str]:
        """Quota from ``GET /v1/urltoimage/quota`` (does not use a capture)."""
        key = self._require_key()
        secrets = (key,)
        response = await request(
            self._client, "GET", f"{self.base_url}/v1/urltoimage/quota", provider=LABEL,
            params={"access_key": key}, timeout=SHORT_TIMEOUT, policy=self._policy, secrets=secrets,
            classify=lambda r: classify(r, secrets=secrets))
        try:
            data = response.json()
        except ValueError:
            data = None
        return usage_lines(data)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
