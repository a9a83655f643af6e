"""urlbox (https://api.urlbox.com): ``POST /v1/render/sync`` with the secret key as Bearer.

Contract: PROVIDERS.md §3. The sync endpoint answers **JSON** ``{renderUrl, size}``; the image
is then fetched from ``renderUrl`` (a storage link: no key is sent there). Redirects are followed
on both calls (urlbox answers long renders with 302/307). Should a server send the image itself
(``response_type=binary`` honoured, or a self-hosted stand-in), the bytes are used directly.

Mapping of the one :class:`CaptureSpec`: ``width``/``height``/``format``/``quality`` (jpeg/webp),
``full_page``, ``selector``, ``dark_mode``, ``block_ads``, ``hide_cookie_banners``, ``css``,
``js``, ``user_agent`` → same names; ``scale`` → ``retina`` (exactly 2×: scale 1 or 2 only);
``delay_ms`` → ``delay`` in **milliseconds**; ``timeout_s`` → ``timeout`` in ms (5000–100000);
``wait_until`` → ``loaded`` / ``requestsfinished``; ``hide_selectors`` → ``hide_selector``
(one comma-separated selector list). Always sent: ``force=true`` (ShotDesk keeps its own
library cache; urlbox would otherwise answer a 30-day-old render), ``fail_on_4xx`` and
``fail_on_5xx`` (a target page answering an error status is a failed capture, as in the local
engine, not a billed picture of an error page).

Usage: urlbox has no usage endpoint; every render answer carries ``x-renders-*`` counters,
which :meth:`UrlboxProvider.usage` reports from the last response (before the first render it
only checks the key, with a status lookup of a render id that cannot exist).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities, ProgressCallback
from shotdesk.capture.http.client import send
from shotdesk.capture.http.errors import error_for_response, make_error
from shotdesk.capture.http.urls import redact_text, redact_url
from shotdesk.capture.providers._hosted import HostedProvider, Secrets, json_or_none, timeout_ms
from shotdesk.core.errors import (
    AuthError,
    BadResponse,
    CaptureError,
    InvalidRequest,
    PlanRequired,
    QuotaExceeded,
    RateLimited,
)
from shotdesk.core.spec import CaptureSpec

ID = "urlbox"
LABEL = "urlbox"
DEFAULT_BASE_URL = "https://api.urlbox.com"
TIMEOUT_RANGE_MS = (5_000, 100_000)
#: A render id that cannot exist: looking it up checks the key without spending a render.
PROBE_RENDER_ID = "00000000-0000-4000-8000-000000000000"

CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp", "pdf"}),
    options=ALL_OPTIONS,
    max_width=3840,
    max_height=2160,
    max_scale=2.0,
    scales=frozenset({1.0, 2.0}),
    needs_key=True,
    notes={"scale": "urlbox only renders at 1× or 2× (retina)"},
)

#: urlbox ``error.code`` values [UB-api], [UB-net-readme].
CODES: Mapping[str, type[CaptureError]] = {
    "NoApiKeySupplied": AuthError,
    "ApiKeyNotFound": AuthError,
    "UserNotFoundError": AuthError,
    "ProjectNotFound": AuthError,
    "ProjectNotEnabled": AuthError,
    "NotConfirmed": AuthError,
    "InvalidOptions": InvalidRequest,
    "OptionNotAvailableOnPlan": PlanRequired,
    "NoPlan": PlanRequired,
    "NotActive": PlanRequired,
}

META_HEADERS: Mapping[str, str] = {
    "x-urlbox-request-id": "request_id",
    "x-urlbox-cache-status": "cache",
    "x-urlbox-render-time": "render_ms",
    "x-urlbox-rendered-by": "rendered_by",
    "x-renders-used": "renders_used",
    "x-renders-allowed": "renders_allowed",
    "x-renders-remaining": "renders_remaining",
    "x-renders-reset": "renders_reset",
    "x-ratelimit-limit": "ratelimit_limit",
    "x-ratelimit-remaining": "ratelimit_remaining",
    "x-ratelimit-reset": "ratelimit_reset",
}

_WAIT: Mapping[str, str] = {"load": "loaded", "networkidle": "requestsfinished"}


def check_spec(spec: CaptureSpec) -> None:
    CAPABILITIES.check(LABEL, spec)


def render_options(spec: CaptureSpec) -> dict[str, Any]:
    """The JSON body of ``/v1/render/sync`` for ``spec``."""
    options: dict[str, Any] = {
        "url": spec.url,
        "format": spec.format,
        "width": spec.width,
        "height": spec.height,
        "full_page": spec.full_page,
        "retina": spec.scale == 2.0,
        "wait_until": _WAIT[spec.wait_until],
        "timeout": timeout_ms(spec.timeout_s, TIMEOUT_RANGE_MS),
        "dark_mode": spec.dark_mode,
        "block_ads": spec.block_ads,
        "hide_cookie_banners": spec.hide_cookie_banners,
        "force": True,
        "fail_on_4xx": True,
        "fail_on_5xx": True,
        "response_type": "json",
    }
    if spec.format in ("jpeg", "webp"):
        options["quality"] = spec.quality
    if spec.delay_ms:
        options["delay"] = spec.delay_ms
    if spec.selector:
        options["selector"] = spec.selector
    if spec.hide_selectors:
        options["hide_selector"] = ", ".join(spec.hide_selectors)
    if spec.css:
        options["css"] = spec.css
    if spec.js:
        options["js"] = spec.js
    if spec.user_agent:
        options["user_agent"] = spec.user_agent
    return options


def build_request(client: httpx.AsyncClient, spec: CaptureSpec, *, base_url: str,
                  api_key: str) -> httpx.Request:
    """The render request for ``spec`` (pure: builds, never sends)."""
    check_spec(spec)
    return client.build_request("POST", f"{base_url}/v1/render/sync", json=render_options(spec),
                                headers={"Authorization": f"Bearer {api_key}"})


def classify(response: httpx.Response, *, secrets: tuple[str | None, ...] = ()) -> CaptureError | None:
    """``None`` for a 2xx, else the typed error urlbox's status and ``error.code`` mean.

    A 429 with ``x-renders-remaining: 0`` is the period's render allowance, not a rate limit.
    """
    error = error_for_response(response, provider=LABEL, codes=CODES, secrets=secrets)
    if isinstance(error, RateLimited) and response.headers.get("x-renders-remaining", "").strip() == "0":
        reset = response.headers.get("x-renders-reset", "").strip()
        return make_error(QuotaExceeded, f"{LABEL}: the plan's renders are used up for this period"
                          + (f" (resets {redact_text(reset[:80], secrets)})" if reset else ""),
                          hint="wait for the period to reset or upgrade the plan; other providers "
                               "and the local engine still work")
    if isinstance(error, PlanRequired):
        error.hint = "check the urlbox plan and project in the urlbox dashboard"
    return error


def usage_lines(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Usage from the ``x-renders-*`` headers of the last render answer."""
    if not headers or not any(h in headers for h in ("x-renders-used", "x-renders-allowed")):
        return {"note": "urlbox reports usage with each render; capture once to see it"}
    out: dict[str, str] = {}
    for header, key in (("x-renders-used", "used"), ("x-renders-allowed", "limit"),
                        ("x-renders-remaining", "remaining"), ("x-renders-reset", "resets")):
        value = headers.get(header)
        if value is not None and value.strip():
            out[key] = value.strip()[:120]
    return out


class UrlboxProvider(HostedProvider):
    """urlbox adapter (no Qt): render synchronously, then download the render."""

    id = ID
    label = LABEL
    needs_key = True
    default_base_url = DEFAULT_BASE_URL
    capabilities = CAPABILITIES
    build_request = build_request
    classify = classify
    meta_headers = META_HEADERS
    key_name = "secret key"
    missing_key_hint = "add the project's secret key in Settings or with `shotdesk key set urlbox`"
    # urlbox redirects long renders: the client made here follows them (the registry's must too).
    follow_redirects = True

    #: The ``x-renders-*`` / ``x-ratelimit-*`` headers of the last render answer (for usage()).
    _last_headers: dict[str, str] | None = None


    def _metadata(self, headers: Mapping[str, str], secrets: Secrets) -> dict[str, str]:
        out = super()._metadata(headers, secrets)
        if "cache" in out:
            out["cache"] = out["cache"].upper()
        return out

    def _read_timeout(self, spec: CaptureSpec) -> float:
        return max(100.0, math.ceil(spec.timeout_s) + 20.0)

    async def _image(self, response: httpx.Response, secrets: Secrets,
                     progress: ProgressCallback | None) -> tuple[bytes, str | None]:
        """The image itself, or (the usual case) the one its ``renderUrl`` links to."""
        self._last_headers = {k.lower(): v for k, v in response.headers.items()
                              if k.lower().startswith(("x-renders-", "x-ratelimit-"))}
        content_type = response.headers.get("content-type")
        if _is_media(content_type):
            return response.content, content_type
        render_url = self._render_url(response, secrets)
        if progress:
            progress(None, f"Downloading the render from {LABEL}…")
        image = await send(self._client, lambda: self._client.build_request("GET", render_url),
                           provider=LABEL, policy=self._policy, secrets=secrets)
        return image.content, image.headers.get("content-type")

    def _render_url(self, response: httpx.Response, secrets: Secrets) -> str:
        """``renderUrl`` from the sync answer, made absolute; BadResponse when missing."""
        data = json_or_none(response)
        url = data.get("renderUrl") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url.strip():
            media = (response.headers.get("content-type") or "no content type").split(";")[0]
            kind = "a web page (HTML)" if "html" in media else media
            raise BadResponse(f"{LABEL} sent {kind} without a render link instead of an image",
                              hint="the service may be down or the address may be wrong; nothing was saved")
        absolute = str(response.url.join(url.strip()))
        if not absolute.startswith(("https://", "http://")):
            raise BadResponse(f"{LABEL} sent an unusable render link "
                              f"({redact_text(redact_url(absolute), secrets)[:120]})",
                              hint="nothing was saved")
        return absolute

    async def usage(self) -> dict[str, str]:
        """Renders used / allowed / remaining and the reset date, from the last render's headers.

        Before any render this session, the key is checked without spending a render: a status
        lookup of a render id that cannot exist (``GET /v1/render/{id}``) answers 401 for a bad
        key and "not found" for a good one.
        """
        if self._last_headers:
            return usage_lines(self._last_headers)
        key = self._require_key()
        secrets = (key,)

        def accept_not_found(response: httpx.Response) -> CaptureError | None:
            if response.status_code == 404:
                return None
            return classify(response, secrets=secrets)

        response = await self._usage_response(f"/v1/render/{PROBE_RENDER_ID}", key,
                                              headers={"Authorization": f"Bearer {key}"},
                                              classify=accept_not_found)
        lines = usage_lines(response.headers)
        if "note" in lines:
            lines = {"key": "accepted",
                     "note": "urlbox reports usage with each render; capture once to see the counts"}
        return lines


def _is_media(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("image/") or media == "application/pdf"
