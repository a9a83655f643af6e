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

from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import Capabilities
from shotdesk.capture.http.errors import error_for_response, make_error, parse_error_body
from shotdesk.capture.http.urls import redact_text
from shotdesk.capture.providers._hosted import HostedProvider, Secrets, flag
from shotdesk.core.errors import AuthError, CaptureError, QuotaExceeded, RateLimited
from shotdesk.core.spec import CaptureSpec

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
        "full_page": flag(spec.full_page),
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


class HermesProvider(HostedProvider):
    """Hermesforge-style screenshot API adapter (no Qt); the key is optional."""

    id = ID
    label = LABEL
    needs_key = False
    default_base_url = DEFAULT_BASE_URL
    capabilities = CAPABILITIES
    meta_headers = META_HEADERS
    probe_rate_limits = False

    def _build_request(self, spec: CaptureSpec) -> httpx.Request:
        return build_request(self._client, spec, base_url=self.base_url, api_key=self._key)

    def _classify(self, response: httpx.Response, secrets: Secrets) -> CaptureError | None:
        return classify(response, secrets=secrets, has_key=self._key is not None)

    async def usage(self) -> dict[str, str]:
        """What ``GET /api/usage`` says (anonymous limits without a key)."""
        key = self._key
        response = await self._usage_response("/api/usage", key,
                                              headers={"X-API-Key": key} if key else None)
        return usage_lines(response, (key,))
