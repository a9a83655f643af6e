"""Hermesforge-style API (https://hermesforge.dev): ``GET /api/screenshot`` with an optional ``X-API-Key``.

Contract: PROVIDERS.md §5 (low-medium confidence). Only what the provider's own MCP server and
OpenAPI excerpt document is sent: ``url``, ``format`` (png/jpeg/webp/pdf), ``width``, ``height``,
``full_page`` ("true"/"false"), and ``wait_for=networkidle`` for ``wait_until=networkidle``.
Anonymous use is allowed (a lower daily cap), so the key is optional.

Refused, because their parameter names or units are not documented (UNCONFIRMED): ``scale``,
``delay_ms``, ``dark_mode``, ``block_ads``, ``hide_cookie_banners``, ``selector``,
``hide_selectors``, ``css``, ``js``, ``user_agent``. JPEG/WebP ``quality`` is not documented
either: the provider's own default applies.

Errors: 402 (x402 "payment required") → quota; 429 → rate limit, or quota when the message
speaks of the daily cap; 401/403 → key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from shotdesk.capture.base import Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import SHORT_TIMEOUT, make_client, request, send
from shotdesk.capture.http.errors import error_for_response, make_error, parse_error_body
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, redact_text
from shotdesk.core.errors import AuthError, CaptureError, QuotaExceeded, RateLimited
from shotdesk.core.media import check_media
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

ID = "hermes"
LABEL = "Hermesforge"
DEFAULT_BASE_URL = "https://hermesforge.dev"

_UNDOCUMENTED = "Hermesforge documents no parameter for this"
CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp", "pdf"}),
    options=frozenset({"full_page", "wait_until"}),
    max_width=3840,
    max_height=2160,
    max_scale=1.0,
    needs_key=False,
    notes={
        "scale": "Hermesforge renders at 1× only",
        "delay_ms": "Hermesforge's delay parameter is not documented (name and unit unknown)",
        "dark_mode": _UNDOCUMENTED,
        "block_ads": _UNDOCUMENTED,
        "hide_cookie_banners": _UNDOCUMENTED,
        "selector": _UNDOCUMENTED,
        "hide_selectors": _UNDOCUMENTED,
        "css": _UNDOCUMENTED,
        "js": "Hermesforge's custom-JavaScript parameter is not documented",
        "user_agent": _UNDOCUMENTED,
        "quality": "Hermesforge documents no quality parameter: its default applies",
    },
)

META_HEADERS: Mapping[str, str] = {
    "x-request-id": "request_id",
    "x-ratelimit-limit": "ratelimit_limit",
    "x-ratelimit-remaining": "ratelimit_remaining",
    "x-ratelimit-reset": "ratelimit_reset",
    "x-cache": "cache",
}

#: Words in a 429 message that mean the daily allowance, not a momentary rate limit.
_DAILY_WORDS = ("daily", "per day", "/day", "quota", "today")


def check_spec(spec: CaptureSpec) -> None:
    CAPABILITIES.check(LABEL, spec)


def capture_params(spec: CaptureSpec) -> dict[str, str]:
    params = {
        "url": spec.url,
        "format": spec.format,
        "width": str(spec.width),
        "height": str(spec.height),
        "full_page": "true" if spec.full_page else "false",
    }
    if spec.wait_until == "networkidle":
        params["wait_for"] = "networkidle"
    return params


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str | None) -> httpx.Request:
    """The capture request for ``spec`` (pure: builds, never sends)."""
    check_spec(spec)
    headers = {"X-API-Key": api_key} if api_key else {}
    return client.build_request("GET", f"{base_url}/api/screenshot", params=capture_params(spec),
                                headers=headers)


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = (),
             has_key: bool = True) -> CaptureError | None:
    error = error_for_response(response, provider=LABEL, secrets=secrets)
    key_hint = ("check your Hermesforge API key in Settings (or `shotdesk key set hermes`)" if has_key
                else "set a (free) Hermesforge API key in Settings for a higher daily limit")
    if isinstance(error, RateLimited):
        said = (parse_error_body(response, secrets=secrets).message or "").lower()
        if any(word in said for word in _DAILY_WORDS):
            return make_error(QuotaExceeded, error.message.replace("is rate limiting requests",
                                                                   "says the daily limit is reached"),
                              hint=key_hint if not has_key else
                              "wait until tomorrow or upgrade the plan; the local engine still works")
    if isinstance(error, QuotaExceeded) and response.status_code == 402:
        error.message = f"{LABEL} asks for payment (HTTP 402): the free allowance is used up"
        error.hint = key_hint if not has_key else "upgrade the plan or wait for the daily reset"
    if isinstance(error, AuthError):
        error.hint = key_hint
    return error


def response_metadata(headers: Mapping[str, str], secrets: tuple[str | None, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    for header, key in META_HEADERS.items():
        value = headers.get(header)
        if value is not None and value.strip():
            out[key] = redact_text(value.strip()[:200], secrets)
    return out


def usage_lines(response: httpx.Response, secrets: tuple[str | None, ...] = ()) -> dict[str, str]:
    """``GET /api/usage`` has no documented shape: scalar JSON fields become lines, text one line."""
    try:
        data: Any = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return {"usage": redact_text(text[:300], secrets)} if text else {}
    out: dict[str, str] = {}
    _flatten(data, "", out, secrets)
    return out


def _flatten(data: Any, prefix: str, out: dict[str, str], secrets: tuple[str | None, ...],
             depth: int = 0) -> None:
    if isinstance(data, dict) and depth < 3:
        for key, value in data.items():
            name = f"{prefix}{key}" if not prefix else f"{prefix}.{key}"
            _flatten(value, name, out, secrets, depth + 1)
    elif isinstance(data, str | int | float | bool) and prefix and len(out) < 30:
        if "key" in prefix.lower():
            return  # never echo anything key-like back
        out[prefix] = redact_text(str(data)[:120], secrets)


class HermesProvider:
    """Hermesforge-style screenshot API adapter (no Qt); the key is optional."""

    id: ClassVar[str] = ID
    label: ClassVar[str] = LABEL
    needs_key: ClassVar[bool] = False
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

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        check_spec(spec)
        key = self._key
        secrets = (key,)
        if progress:
            progress(None, f"Rendering at {LABEL}…")
        response = await send(
            self._client, lambda: build_request(self._client, spec, base_url=self.base_url, api_key=key),
            provider=LABEL, policy=self._policy, limiter=self._limiter, secrets=secrets,
            classify=lambda r: classify(r, secrets=secrets, has_key=key is not None))
        info = await asyncio.to_thread(check_media, response.content, expected=spec.format,
                                       content_type=response.headers.get("content-type"), source=LABEL)
        if progress:
            progress(1.0, "Done")
        return CaptureResult(data=response.content, media_type=info.media_type, width=info.width,
                             height=info.height, provider=ID,
                             metadata=response_metadata(response.headers, secrets))

    async def usage(self) -> dict[str, str]:
        """What ``GET /api/usage`` says (anonymous limits without a key)."""
        key = self._key
        secrets = (key,)
        response = await request(
            self._client, "GET", f"{self.base_url}/api/usage", provider=LABEL,
            headers={"X-API-Key": key} if key else None, timeout=SHORT_TIMEOUT, policy=self._policy,
            secrets=secrets, classify=lambda r: classify(r, secrets=secrets, has_key=key is not None))
        return usage_lines(response, secrets)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
