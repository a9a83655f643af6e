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

from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities
from shotdesk.capture.http.errors import error_for_response, make_error
from shotdesk.capture.providers._hosted import (
    HostedProvider,
    flag,
    json_object,
    json_or_none,
    unix_time_text,
    whole_seconds,
)
from shotdesk.core.errors import AuthError, CaptureError, QuotaExceeded, RateLimited
from shotdesk.core.spec import CaptureSpec

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
    return min(MAX_DELAY_S, whole_seconds(delay_ms))


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
        "full_page": flag(spec.full_page),
        "scale_factor": str(int(spec.scale)),
        "delay": str(delay_seconds(spec.delay_ms)),
        "wait_until": _WAIT[spec.wait_until],
        "no_ads": flag(spec.block_ads),
        "no_cookie_banners": flag(spec.hide_cookie_banners),
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


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /v1/urltoimage/quota`` (``{limit, remaining, reset}``)."""
    data = json_object(data, provider=LABEL, what="quota report")
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
        float(value)
    except (TypeError, ValueError):
        return str(value)[:80] or None  # already a date
    return unix_time_text(value, units=(1e3,), seconds=False)


class ApiFlashProvider(HostedProvider):
    """ApiFlash adapter (no Qt). The access key travels in the query: always redacted."""

    id = ID
    label = LABEL
    needs_key = True
    default_base_url = DEFAULT_BASE_URL
    capabilities = CAPABILITIES
    build_request = build_request
    classify = classify
    meta_headers = META_HEADERS
    key_name = "access key"
    probe_rate_limits = False


    async def usage(self) -> dict[str, str]:
        """Quota from ``GET /v1/urltoimage/quota`` (does not use a capture)."""
        key = self._require_key()
        response = await self._usage_response("/v1/urltoimage/quota", key, params={"access_key": key})
        return usage_lines(json_or_none(response))
