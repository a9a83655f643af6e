"""What the hosted screenshot-API adapters share: :class:`HostedProvider` and small pure helpers.

Each adapter module (snapsharp, screenshotone, urlbox, apiflash, hermes, snapapi) keeps its
provider-specific mapping — parameter names and units, error codes, usage report, special
flows — and subclasses :class:`HostedProvider` for the plumbing every one of them repeats:

* ``__init__(*, base_url, api_key, client, policy, limiter)``: the checked base URL, the key,
  an owned pooled client unless one is given, the retry policy and a rate limiter;
* :meth:`HostedProvider.capture`: check the spec against the capabilities → key → progress →
  :func:`send` the capture request (retries, limiter, typed errors) → check the media in a
  thread → :class:`CaptureResult` with the response's metadata;
* :meth:`HostedProvider._usage_response` for ``usage()``, and :meth:`HostedProvider.aclose`.

A subclass sets the class attributes (``id``, ``label``, ``needs_key``, ``default_base_url``,
``capabilities``, ``meta_headers``, its module's ``build_request`` and ``classify``, …); it may
override ``_build_request``, ``_classify``, ``_metadata``, ``_read_timeout`` and ``_image`` where
the provider differs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from shotdesk.capture.base import Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import SHORT_TIMEOUT, Classifier, make_client, request, send
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, redact_text
from shotdesk.core.errors import AuthError, BadResponse, CaptureError
from shotdesk.core.media import check_media
from shotdesk.core.spec import CaptureSpec

Secrets = tuple[str | None, ...]


# ---------------------------------------------------------------------------- pure helpers

def flag(value: bool) -> str:
    """A boolean as a query value: ``"true"`` / ``"false"``."""
    return "true" if value else "false"


def whole_seconds(ms: int) -> int:
    """Milliseconds → whole seconds, rounded up (1 ms → 1 s, 1000 → 1, 1500 → 2)."""
    return math.ceil(ms / 1000)


def timeout_ms(timeout_s: float, bounds: tuple[int, int]) -> int:
    """``timeout_s`` in whole milliseconds (rounded up), kept within ``bounds`` (lo, hi)."""
    lo, hi = bounds
    return max(lo, min(hi, math.ceil(timeout_s * 1000)))


def json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body, or ``None`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def json_object(data: Any, *, provider: str, what: str = "usage report") -> dict[str, Any]:
    """``data`` when it is a JSON object, else :class:`BadResponse` ("… sent an unreadable …")."""
    if not isinstance(data, dict):
        raise BadResponse(f"{provider} sent an unreadable {what}", hint="try again later")
    return data


def header_metadata(headers: Mapping[str, str], names: Mapping[str, str],
                    secrets: Secrets = ()) -> dict[str, str]:
    """Metadata from the non-blank response headers in ``names`` (header → metadata key).

    Values are trimmed, cut to 200 characters and have every URL and secret masked.
    """
    out: dict[str, str] = {}
    for header, key in names.items():
        value = headers.get(header)
        if value is not None and value.strip():
            out[key] = redact_text(value.strip()[:200], secrets)
    return out


def without_ms_suffix(metadata: dict[str, str]) -> dict[str, str]:
    """``metadata`` with a ``render_ms`` value such as ``"840ms"`` reduced to ``"840"``."""
    if "render_ms" in metadata:
        metadata["render_ms"] = metadata["render_ms"].lower().removesuffix("ms").strip()
    return metadata


def unix_time_text(value: Any, *, units: tuple[float, ...] = (1e9, 1e6, 1e3),
                   seconds: bool = True) -> str | None:
    """A Unix time as ``"YYYY-MM-DD HH:MM[:SS] UTC"``; ``None`` when it is not one.

    ``value`` is in seconds or in one of ``units`` per second (1e3 = milliseconds, 1e9 =
    nanoseconds), told apart by size: a value of at least 1e9 × unit is taken in the first such
    unit. Anything that is not a positive finite number, or no representable date, is ``None``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    for unit in units:
        if number >= 1e9 * unit:
            number /= unit
            break
    layout = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    try:
        return datetime.fromtimestamp(number, tz=UTC).strftime(layout)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- the base class

class HostedProvider:
    """The shared body of a hosted screenshot-API adapter (no Qt). Subclass, don't instantiate."""

    id: ClassVar[str]
    label: ClassVar[str]
    needs_key: ClassVar[bool] = True
    default_base_url: ClassVar[str | None]
    capabilities: ClassVar[Capabilities]
    #: Response header → metadata key (see :meth:`_metadata`).
    meta_headers: ClassVar[Mapping[str, str]] = {}
    #: What the provider calls its key, for "No <key_name> is set for <label>".
    key_name: ClassVar[str] = "API key"
    #: The hint when the key is missing; ``None``: "add it in Settings or with `shotdesk key set <id>`".
    missing_key_hint: ClassVar[str | None] = None
    #: ``False`` for providers that document no rate-limit headers: the limiter then only bounds
    #: concurrency and never holds the first requests back to learn the budget.
    probe_rate_limits: ClassVar[bool] = True
    #: Whether the client this adapter creates follows redirects.
    follow_redirects: ClassVar[bool] = False
    #: The adapter module's pure functions, ``build_request(client, spec, *, base_url, api_key)``
    #: and ``classify(response, *, secrets)``, used by the default :meth:`_build_request` and
    #: :meth:`_classify`; an adapter whose calls differ overrides those methods instead.
    build_request: ClassVar[Callable[..., httpx.Request] | None] = None
    classify: ClassVar[Callable[..., CaptureError | None] | None] = None

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None, policy: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None) -> None:
        self.base_url = self._checked_base_url(base_url)
        self._key = api_key or None
        self._client = client or make_client(base_url=self.base_url,
                                             follow_redirects=self.follow_redirects)
        self._owns_client = client is None
        self._policy = policy
        self._limiter = limiter or RateLimiter(provider=self.label,
                                               probe_first=self.probe_rate_limits)

    # ------------------------------------------------------------------ hooks

    def _checked_base_url(self, base_url: str | None) -> str:
        """``base_url`` (else the provider's public default) after :func:`check_base_url`."""
        return check_base_url(base_url or self.default_base_url or "", provider=self.label)

    def _build_request(self, spec: CaptureSpec) -> httpx.Request:
        """The capture request for ``spec`` (built anew for every attempt)."""
        build = type(self).build_request
        if build is None:
            raise NotImplementedError
        return build(self._client, spec, base_url=self.base_url, api_key=self._require_key())

    def _classify(self, response: httpx.Response, secrets: Secrets) -> CaptureError | None:
        """``None`` for a usable response, else the typed error it means."""
        classify = type(self).classify
        if classify is None:
            raise NotImplementedError
        return classify(response, secrets=secrets)

    def _metadata(self, headers: Mapping[str, str], secrets: Secrets) -> dict[str, str]:
        """The capture result's metadata, from the capture response's headers."""
        return header_metadata(headers, self.meta_headers, secrets)

    def _read_timeout(self, spec: CaptureSpec) -> float | None:
        """A read timeout (s) for this capture request; ``None``: the client's default."""
        return None

    async def _image(self, response: httpx.Response, secrets: Secrets,
                     progress: ProgressCallback | None) -> tuple[bytes, str | None]:
        """The picture's bytes and content type from the accepted capture response."""
        return response.content, response.headers.get("content-type")

    # ------------------------------------------------------------------ shared behaviour

    def _require_key(self) -> str:
        if not self._key:
            raise AuthError(f"No {self.key_name} is set for {self.label}",
                            hint=self.missing_key_hint
                            or f"add it in Settings or with `shotdesk key set {self.id}`")
        return self._key

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        self.capabilities.check(self.label, spec)
        key = self._require_key() if self.needs_key else self._key
        secrets = (key,)
        if progress:
            progress(None, f"Rendering at {self.label}…")
        read = self._read_timeout(spec)

        def build() -> httpx.Request:
            req = self._build_request(spec)
            if read is not None:
                timeout = httpx.Timeout(read, connect=10.0, write=30.0, pool=60.0)
                req.extensions["timeout"] = timeout.as_dict()
            return req

        response = await send(self._client, build, provider=self.label, policy=self._policy,
                              limiter=self._limiter, secrets=secrets,
                              classify=lambda r: self._classify(r, secrets))
        metadata = self._metadata(response.headers, secrets)
        data, content_type = await self._image(response, secrets, progress)
        info = await asyncio.to_thread(check_media, data, expected=spec.format,
                                       content_type=content_type, source=self.label)
        if progress:
            progress(1.0, "Done")
        return CaptureResult(data=data, media_type=info.media_type, width=info.width,
                             height=info.height, provider=self.id, metadata=metadata)

    async def _usage_response(self, path: str, key: str | None, *,
                              headers: Mapping[str, str] | None = None,
                              params: Mapping[str, str] | None = None,
                              classify: Classifier | None = None) -> httpx.Response:
        """``GET <base_url><path>`` for a usage/quota report (short timeout, no rate limiter)."""
        secrets = (key,)
        return await request(
            self._client, "GET", f"{self.base_url}{path}", provider=self.label, params=params,
            headers=headers, timeout=SHORT_TIMEOUT, policy=self._policy, secrets=secrets,
            classify=classify or (lambda r: self._classify(r, secrets)))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
