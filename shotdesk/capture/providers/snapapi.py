"""SnapAPI (snapapi.pics contract): ``POST /v1/screenshot`` with a **camelCase** JSON body and ``X-Api-Key``.

Contract: PROVIDERS.md §6.1. Several unrelated services are called "SnapAPI", so the base URL is
a required setting (no default); the public snapapi.pics one is ``https://api.snapapi.pics``.

Mapping of the one :class:`CaptureSpec`: ``width``, ``height``, ``format``, ``quality``
(jpeg/webp), ``selector``, ``css``, ``delay`` (**ms**, 0–30000) → same names; ``scale`` →
``deviceScaleFactor`` (1–3); ``full_page`` → ``fullPage``; ``wait_until`` → ``waitUntil``
(``load``/``networkidle``); ``timeout_s`` → ``timeout`` in ms (1000–60000); ``dark_mode`` →
``darkMode``; ``block_ads`` → ``blockAds``; ``hide_cookie_banners`` → ``blockCookieBanners``;
``hide_selectors`` → ``hideSelectors`` (list); ``js`` → ``javascript``; ``user_agent`` →
``userAgent``. Always sent: ``responseType: "binary"`` and ``failOnHttpError: true`` (a target
answering 4xx/5xx is a failed capture, as in the local engine).

Errors: ``{"error": {"code", "message", "details"}}`` — 401 INVALID_API_KEY, 402 QUOTA_EXCEEDED
(``details.resetAt``), 429 RATE_LIMITED (``Retry-After``), 422 CONTENT_CHECK_FAILED, 5xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.http.urls import check_base_url
from shotdesk.capture.providers._hosted import (
    HostedProvider,
    Secrets,
    json_object,
    json_or_none,
    timeout_ms,
    without_ms_suffix,
)
from shotdesk.core.errors import (
    AuthError,
    CaptureError,
    CaptureTimeout,
    InvalidRequest,
    InvalidSpec,
    PageLoadError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from shotdesk.core.spec import CaptureSpec

ID = "snapapi"
LABEL = "SnapAPI"
#: The snapapi.pics address, offered as an example — never used implicitly.
EXAMPLE_BASE_URL = "https://api.snapapi.pics"
TIMEOUT_RANGE_MS = (1_000, 60_000)

CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp", "pdf"}),
    options=ALL_OPTIONS,
    max_width=3840,
    max_height=2160,
    max_scale=3.0,
    needs_key=True,
)

#: SnapAPI ``error.code`` values [SA-docs].
CODES: Mapping[str, type[CaptureError]] = {
    "INVALID_API_KEY": AuthError,
    "UNAUTHORIZED": AuthError,
    "QUOTA_EXCEEDED": QuotaExceeded,
    "RATE_LIMITED": RateLimited,
    "INVALID_REQUEST": InvalidRequest,
    "INVALID_URL": InvalidRequest,
    "INVALID_FORMAT": InvalidRequest,
    "NOT_FOUND": InvalidRequest,
    "CONTENT_CHECK_FAILED": PageLoadError,
    "SCREENSHOT_FAILED": ProviderUnavailable,
    "RENDER_FAILED": ProviderUnavailable,
    "TIMEOUT": CaptureTimeout,
}

META_HEADERS: Mapping[str, str] = {
    "x-request-id": "request_id",
    "x-ratelimit-limit": "ratelimit_limit",
    "x-ratelimit-remaining": "ratelimit_remaining",
    "x-ratelimit-reset": "ratelimit_reset",
    "x-ratelimit-window": "ratelimit_window",
    "x-quota-used": "quota_used",
    "x-quota-limit": "quota_limit",
    "x-quota-reset": "quota_reset",
    "x-cache": "cache",
    "x-response-time": "render_ms",
}


def check_spec(spec: CaptureSpec) -> None:
    CAPABILITIES.check(LABEL, spec)


def require_base_url(base_url: str | None) -> str:
    """The checked base URL; a clear :class:`InvalidSpec` when none is set."""
    if not base_url or not base_url.strip():
        raise InvalidSpec(
            "api_base",
            f"{LABEL} needs its address (base URL): several unrelated services use that name",
            hint=f"set it in Settings or with --api-base, e.g. {EXAMPLE_BASE_URL} for snapapi.pics",
        )
    return check_base_url(base_url, provider=LABEL)


def screenshot_body(spec: CaptureSpec) -> dict[str, Any]:
    """The camelCase JSON body of ``POST /v1/screenshot`` for ``spec``."""
    body: dict[str, Any] = {
        "url": spec.url,
        "format": spec.format,
        "width": spec.width,
        "height": spec.height,
        "deviceScaleFactor": spec.scale,
        "fullPage": spec.full_page,
        "delay": spec.delay_ms,
        "timeout": timeout_ms(spec.timeout_s, TIMEOUT_RANGE_MS),
        "waitUntil": spec.wait_until,
        "darkMode": spec.dark_mode,
        "blockAds": spec.block_ads,
        "blockCookieBanners": spec.hide_cookie_banners,
        "responseType": "binary",
        "failOnHttpError": True,
    }
    if spec.format in ("jpeg", "webp"):
        body["quality"] = spec.quality
    if spec.selector:
        body["selector"] = spec.selector
    if spec.hide_selectors:
        body["hideSelectors"] = list(spec.hide_selectors)
    if spec.css:
        body["css"] = spec.css
    if spec.js:
        body["javascript"] = spec.js
    if spec.user_agent:
        body["userAgent"] = spec.user_agent
    return body


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str) -> httpx.Request:
    """The capture request for ``spec`` (pure: builds, never sends)."""
    check_spec(spec)
    return client.build_request("POST", f"{base_url}/v1/screenshot", json=screenshot_body(spec),
                                headers={"X-Api-Key": api_key})


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = ()) -> CaptureError | None:
    error = error_for_response(response, provider=LABEL, codes=CODES, secrets=secrets)
    if isinstance(error, QuotaExceeded):
        reset = _reset_at(response)
        error.hint = (f"the monthly quota resets {reset}" if reset
                      else "the monthly quota resets on the 1st (00:00 UTC)") + \
            "; other providers and the local engine still work"
    elif isinstance(error, AuthError):
        error.hint = "check your SnapAPI key and address in Settings (or `shotdesk key set snapapi`)"
    return error


def _reset_at(response: httpx.Response) -> str | None:
    data = json_or_none(response)
    err = data.get("error") if isinstance(data, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    value = details.get("resetAt") if isinstance(details, dict) else None
    return str(value)[:40] if value else None


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /v1/usage`` (``{used, limit, remaining, resetAt}``)."""
    data = json_object(data, provider=LABEL)
    out: dict[str, str] = {}
    if data.get("plan"):
        out["plan"] = str(data["plan"])[:40]
    for field, key in (("used", "used"), ("limit", "limit"), ("remaining", "remaining"),
                       ("resetAt", "resets")):
        if data.get(field) is not None:
            out[key] = str(data[field])[:60]
    return out


class SnapApiProvider(HostedProvider):
    """SnapAPI adapter (no Qt). ``base_url`` is required."""

    id = ID
    label = LABEL
    needs_key = True
    default_base_url = None
    capabilities = CAPABILITIES
    build_request = build_request
    classify = classify
    meta_headers = META_HEADERS

    def _checked_base_url(self, base_url: str | None) -> str:
        return require_base_url(base_url)


    def _metadata(self, headers: Mapping[str, str], secrets: Secrets) -> dict[str, str]:
        return without_ms_suffix(super()._metadata(headers, secrets))

    async def usage(self) -> dict[str, str]:
        """Monthly usage from ``GET /v1/usage``."""
        key = self._require_key()
        response = await self._usage_response("/v1/usage", key, headers={"X-Api-Key": key})
        return usage_lines(json_or_none(response))
