"""The self-hosted thumbnail service (PROVIDERS.md §7, "Thumbnail pattern").

``GET {base}/thumb?url=<page>&w=<width>&h=<height>`` → ``image/png`` bytes, with ``X-Cache: HIT``
or ``MISS`` reported in the capture's metadata (``cache``). PNG only, and no other options: a
spec that asks for more is refused as :class:`Unsupported`. Errors follow FastAPI's
``{"detail": …}`` (400/422 → InvalidRequest; 502/504 upstream render failures are retried).
An optional key goes in ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import make_client, request
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url
from shotdesk.core.errors import CaptureError
from shotdesk.core.media import check_media
from shotdesk.core.spec import CaptureSpec

_NOTE = "the thumbnail service takes only the address and a size"

CAPABILITIES = Capabilities(
    formats=frozenset({"png"}),
    options=frozenset(),
    max_width=3840,
    max_height=2160,
    max_scale=1.0,
    needs_key=False,
    notes={name: _NOTE for name in ALL_OPTIONS},
)


class ThumbProvider:
    """Adapter for ``GET /thumb?url=&w=&h=``."""

    label: str = "Thumbnail service (self-hosted)"
    needs_key: ClassVar[bool] = False
    default_base_url: ClassVar[str | None] = None
    capabilities: Capabilities = CAPABILITIES

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None, provider_id: str = "thumb",
                 policy: RetryPolicy | None = None, limiter: RateLimiter | None = None) -> None:
        self.id = provider_id
        self.base_url = check_base_url(base_url or "", provider=self.label)
        self._key = api_key or None
        self._client = client or make_client(base_url=self.base_url)
        self._owns_client = client is None
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or RateLimiter(max_concurrency=4, provider=self.label)

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        self.capabilities.check(self.id, spec)
        if progress:
            progress(None, f"Asking {self.label} for a thumbnail")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else None

        def classify(response: httpx.Response) -> CaptureError | None:
            return error_for_response(response, provider=self.label, secrets=(self._key,))

        response = await request(
            self._client, "GET", "thumb",
            params={"url": spec.url, "w": str(spec.width), "h": str(spec.height)},
            headers=headers, provider=self.label, policy=self._policy, limiter=self._limiter,
            timeout=httpx.Timeout(spec.timeout_s + 30.0, connect=10.0), classify=classify,
            secrets=(self._key,))
        info = await asyncio.to_thread(check_media, response.content, expected="png",
                                       content_type=response.headers.get("content-type"),
                                       source=self.label)
        metadata: dict[str, str] = {}
        cache = response.headers.get("x-cache", "").strip().upper()
        if cache:
            metadata["cache"] = cache[:16]
        return CaptureResult(data=response.content, media_type=info.media_type, width=info.width,
                             height=info.height, provider=self.id, metadata=metadata)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
