"""SnapSharp (https://api.snapsharp.dev): ``GET``/``POST /v1/screenshot`` with a Bearer key.

Contract: PROVIDERS.md §1. Mapping of the one :class:`CaptureSpec`:

* ``width``/``height``/``format``/``quality`` → same names (quality only for jpeg/webp);
  ``scale`` → ``retina`` (exactly 2×, so only scale 1 or 2 is accepted); ``delay_ms`` → ``delay``
  in **milliseconds**; ``wait_until`` → ``load``/``networkidle``; ``hide_cookie_banners`` →
  ``block_cookie_banners``; ``dark_mode``, ``block_ads``, ``full_page``, ``css``, ``js``,
  ``user_agent``, ``hide_selectors`` → same names.
* Every parameter is sent explicitly: account-level default parameters apply to whatever is
  omitted (an omitted ``format`` may come back as WebP) [SS-defaults].
* ``GET`` with query parameters, or ``POST`` JSON when CSS, JS or hidden selectors are set (as
  the official SDKs do; ``hide_selectors`` is a list).
* Refused: an element ``selector`` (no such parameter), PDF (only images are documented for
  screenshots), a scale other than 1 or 2.
* Errors are classified by the body's ``error`` code: one status (429) means both
  ``rate_limited`` (retried after ``Retry-After``) and ``quota_exceeded`` (never retried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.providers._hosted import (
    HostedProvider,
    Secrets,
    flag,
    json_object,
    json_or_none,
    without_ms_suffix,
)
from shotdesk.core.errors import (
    AuthError,
    CaptureError,
    InvalidRequest,
    PlanRequired,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from shotdesk.core.spec import CaptureSpec

ID = "snapsharp"
LABEL = "SnapSharp"
DEFAULT_BASE_URL = "https://api.snapsharp.dev"

CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp"}),
    options=ALL_OPTIONS - {"selector"},
    max_width=3840,
    max_height=2160,
    max_scale=2.0,
    scales=frozenset({1.0, 2.0}),
    needs_key=True,
    notes={
        "selector": "SnapSharp has no element-capture parameter",
        "scale": "SnapSharp only renders at 1× or 2× (retina)",
        "format": "SnapSharp documents png, jpeg and webp for screenshots (no pdf)",
    },
)

#: SnapSharp's ``error`` codes [SS-auth], [SS-rl], [SS-async].
CODES: Mapping[str, type[CaptureError]] = {
    "unauthorized": AuthError,
    "plan_required": PlanRequired,
    "rate_limited": RateLimited,
    "quota_exceeded": QuotaExceeded,
    "validation_error": InvalidRequest,
    "queue_unavailable": ProviderUnavailable,
}

#: Response header → metadata key.
META_HEADERS: Mapping[str, str] = {
    "x-request-id": "request_id",
    "x-ratelimit-limit": "ratelimit_limit",
    "x-ratelimit-remaining": "ratelimit_remaining",
    "x-ratelimit-reset": "ratelimit_reset",
    "x-response-time": "render_ms",
    "x-cache": "cache",
}


def check_spec(spec: CaptureSpec) -> None:
    """Raise :class:`Unsupported` naming every option SnapSharp cannot honour."""
    CAPABILITIES.check(LABEL, spec)


def screenshot_params(spec: CaptureSpec) -> dict[str, Any]:
    """The ``/v1/screenshot`` fields for ``spec`` as native JSON values (every one explicit)."""
    params: dict[str, Any] = {
        "url": spec.url,
        "width": spec.width,
        "height": spec.height,
        "format": spec.format,
        "full_page": spec.full_page,
        "retina": spec.scale == 2.0,
        "delay": spec.delay_ms,
        "wait_until": spec.wait_until,  # load | networkidle: the same names
        "dark_mode": spec.dark_mode,
        "block_ads": spec.block_ads,
        "block_cookie_banners": spec.hide_cookie_banners,
    }
    if spec.format in ("jpeg", "webp"):
        params["quality"] = spec.quality
    if spec.user_agent:
        params["user_agent"] = spec.user_agent
    if spec.css:
        params["css"] = spec.css
    if spec.js:
        params["js"] = spec.js
    if spec.hide_selectors:
        params["hide_selectors"] = list(spec.hide_selectors)
    return params


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str) -> httpx.Request:
    """The capture request for ``spec`` (pure: builds, never sends)."""
    check_spec(spec)
    params = screenshot_params(spec)
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{base_url}/v1/screenshot"
    if spec.css or spec.js or spec.hide_selectors:
        return client.build_request("POST", url, json=params, headers=headers)
    query = {k: flag(v) if isinstance(v, bool) else str(v) for k, v in params.items()}
    return client.build_request("GET", url, params=query, headers=headers)


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = ()) -> CaptureError | None:
    """``None`` for a 2xx, else the typed error SnapSharp's status and ``error`` code mean."""
    error = error_for_response(response, provider=LABEL, codes=CODES, secrets=secrets)
    if isinstance(error, PlanRequired):
        plan = _json_field(response, "required_plan")
        if plan:
            error.message = f"{error.message} (needs the {plan} plan)"
    if isinstance(error, QuotaExceeded):
        error.hint = "the monthly quota resets at the end of the billing period (`shotdesk key test " \
                     "snapsharp` shows when); other providers and the local engine still work"
    return error


def _json_field(response: httpx.Response, name: str) -> str | None:
    data = json_or_none(response)
    value = data.get(name) if isinstance(data, dict) else None
    return str(value)[:40] if value not in (None, "") else None


def usage_lines(data: Any) -> dict[str, str]:
    """Human-readable lines from ``GET /v1/usage`` [SS-usage]."""
    data = json_object(data, provider=LABEL)
    out: dict[str, str] = {}
    if data.get("plan"):
        out["plan"] = str(data["plan"])
    usage = _obj(data.get("usage"))
    if usage.get("requests") is not None:
        out["used"] = str(usage["requests"])
    limit = usage.get("limit")
    if limit is not None:
        out["limit"] = "unlimited" if str(limit) == "-1" else str(limit)
    if usage.get("remaining") is not None and str(limit) != "-1":
        out["remaining"] = str(usage["remaining"])
    period = _obj(data.get("period"))
    if period.get("end"):
        out["resets"] = str(period["end"])
    return out


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class SnapSharpProvider(HostedProvider):
    """SnapSharp screenshot API adapter (no Qt)."""

    id = ID
    label = LABEL
    needs_key = True
    default_base_url = DEFAULT_BASE_URL
    capabilities = CAPABILITIES
    build_request = build_request
    classify = classify
    meta_headers = META_HEADERS


    def _metadata(self, headers: Mapping[str, str], secrets: Secrets) -> dict[str, str]:
        """The informative response headers (request id, rate limit, render time, cache)."""
        return without_ms_suffix(super()._metadata(headers, secrets))

    async def usage(self) -> dict[str, str]:
        """Plan and monthly usage from ``GET /v1/usage`` (does not use a render)."""
        key = self._require_key()
        response = await self._usage_response("/v1/usage", key,
                                              headers={"Authorization": f"Bearer {key}"})
        return usage_lines(json_or_none(response))
