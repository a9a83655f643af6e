"""The one capture path: spec → cache lookup → provider → validated bytes → gallery row.

Used by the CLI under plain asyncio and by the window's CaptureService under qasync, so there is
one capture path, not two. Nothing here imports Qt; disk and SQLite work runs in threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from shotdesk.capture.base import CaptureResult, ProgressCallback, Provider
from shotdesk.capture.registry import ProviderRegistry
from shotdesk.core.compare import capture_flags
from shotdesk.core.errors import CaptureError
from shotdesk.core.library import Capture, Library
from shotdesk.core.settings import Settings, load_settings
from shotdesk.core.spec import DELAY_RANGE, CaptureSpec

log = logging.getLogger(__name__)

#: Extra wait before the one retry of a blank or bot-check capture.
RETRY_EXTRA_DELAY_MS = 3000


@dataclass(frozen=True)
class CaptureOutcome:
    capture: Capture
    #: Answered from the library without rendering.
    cached: bool
    elapsed_ms: int


class CapturePipeline:
    """Runs captures into a :class:`Library` through the providers of a :class:`ProviderRegistry`."""

    def __init__(self, library: Library, registry: ProviderRegistry, *, ttl_s: float = 86_400) -> None:
        self.library = library
        self.registry = registry
        self.ttl_s = ttl_s

    @classmethod
    def open_default(cls, settings: Settings | None = None) -> CapturePipeline:
        """The user's library and providers, keys looked up through the OS keyring wrapper."""
        from shotdesk.services import secrets

        settings = settings or load_settings()
        registry = ProviderRegistry(settings, key_lookup=secrets.get_key)
        library = Library(cache_limit_bytes=settings.cache_limit_mb * 1_000_000)
        return cls(library, registry, ttl_s=settings.cache_ttl_s)

    async def capture(self, spec: CaptureSpec, *, use_cache: bool = True,
                      progress: ProgressCallback | None = None, record_failure: bool = False,
                      replaces: int | None = None) -> CaptureOutcome:
        """Capture ``spec`` into the library; raise a ``ShotDeskError`` with a clear message."""
        started = time.perf_counter()
        self.registry.info(spec.provider).capabilities.check(spec.provider, spec)
        # Build the provider first: a broken configuration (bad template, base URL, missing key)
        # is reported even when the gallery holds a fresh copy.
        provider = await self.registry.get(spec.provider)
        if use_cache and self.ttl_s > 0:
            hit = await asyncio.to_thread(self.library.find_fresh, spec.cache_key(), self.ttl_s)
            if hit is not None:
                await self._drop_replaced(replaces)
                return CaptureOutcome(hit, cached=True, elapsed_ms=_ms_since(started))
        if progress:
            progress(None, f"Capturing {spec.url} with {spec.provider}")
        try:
            result, flags = await self._render(provider, spec, progress)
        except CaptureError as exc:
            if record_failure:
                await asyncio.to_thread(self.library.add_failed, spec, str(exc))
                await self._drop_replaced(replaces)
            raise
        elapsed = _ms_since(started)
        if progress:
            progress(0.95, "Saving to the gallery")
        capture = await asyncio.to_thread(self.library.add, spec, result, elapsed_ms=elapsed, flags=flags)
        await self._drop_replaced(replaces)
        log.info("captured %s with %s in %d ms → #%d", spec.url, spec.provider, elapsed, capture.id)
        return CaptureOutcome(capture, cached=False, elapsed_ms=_ms_since(started))

    async def _render(self, provider: Provider, spec: CaptureSpec,
                      progress: ProgressCallback | None) -> tuple[CaptureResult, tuple[str, ...]]:
        """Render; a blank or bot-check picture is retried once with a longer wait.

        The result is stored under the spec the user asked for, flagged ``retried`` plus whatever
        the second picture still shows (``blank`` / ``challenge``), so the tile can say so.
        """
        result = await provider.capture(spec, progress)
        flags = await asyncio.to_thread(capture_flags, result.data, result.media_type, result.title)
        if not flags:
            return result, ()
        log.info("capture of %s looks %s; retrying once with a longer wait", spec.url, "/".join(flags))
        if progress:
            progress(None, f"The page looked {' and '.join(flags)}; trying once more with a longer wait")
        patient = spec
        if "delay_ms" in provider.capabilities.options:
            patient = spec.with_changes(delay_ms=min(DELAY_RANGE[1], spec.delay_ms + RETRY_EXTRA_DELAY_MS))
        if "wait_until" in provider.capabilities.options:
            patient = patient.with_changes(wait_until="networkidle")
        retried = await provider.capture(patient, progress)
        again = await asyncio.to_thread(capture_flags, retried.data, retried.media_type, retried.title)
        return retried, ("retried", *again)

    async def _drop_replaced(self, capture_id: int | None) -> None:
        if capture_id is not None:
            await asyncio.to_thread(self.library.delete, capture_id)

    async def aclose(self) -> None:
        await self.registry.aclose()
        await asyncio.to_thread(self.library.close)


def _ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)
