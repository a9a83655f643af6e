"""The ``local`` provider: ShotDesk's own QtWebEngine engine, reached over its job API.

No Qt in this process: :class:`EngineManager` runs the engine in its own process (DESIGN.md §5),
and the capture goes through the same :class:`JobApiProvider` (``extended=True``) that talks to a
team's self-hosted job API. What this adapter adds:

* the engine is started on the first capture and kept warm; a dark-mode capture goes to a second,
  dark engine process;
* an engine that dies while capturing becomes :class:`EngineCrashed` ("The local engine stopped
  while capturing …"), and the next capture runs on a restarted engine.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

from shotdesk.capture.base import Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.engine.manager import EngineManager
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.providers.jobapi import JobApiProvider
from shotdesk.core.errors import BadResponse, CaptureError, CaptureTimeout, EngineCrashed, ProviderUnavailable
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

#: Everything CaptureSpec can say: all formats and options, scale 1–3, the spec's size ranges.
LOCAL_CAPABILITIES = Capabilities(needs_key=False)

#: Loopback to a local process: a failed request is retried once, quickly; a dead engine is
#: detected by the manager instead of by waiting through backoff.
_LOCAL_POLICY = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0, max_total_s=10.0)

#: Failures that may mean the engine process went away underneath the request.
_MAYBE_CRASH = (ProviderUnavailable, BadResponse, CaptureTimeout)


class LocalProvider:
    """``Provider`` for the built-in engine. ``engine`` is shared (the app passes its own manager);
    without one, this provider owns a manager with ``pool_size`` pages and stops it in aclose()."""

    id = "local"
    label = "Local engine (built in)"
    needs_key = False
    default_base_url: str | None = None
    capabilities = LOCAL_CAPABILITIES

    def __init__(self, engine: EngineManager | None = None, pool_size: int = 2) -> None:
        self._engine = engine if engine is not None else EngineManager(pool_size=pool_size)
        self._owns_engine = engine is None
        self._clients: dict[bool, tuple[str, JobApiProvider]] = {}
        self._closed = False

    @property
    def engine(self) -> EngineManager:
        return self._engine

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        self.capabilities.check(self.id, spec)
        if self._closed:
            raise EngineCrashed("The local engine has been shut down", hint="restart ShotDesk")
        dark = spec.dark_mode
        if progress is not None and not self._engine.is_running(dark):
            progress(None, "Starting the local engine" + (" (dark mode)" if dark else ""))
        client = await self._client(dark)
        try:
            result = await client.capture(spec, progress)
        except EngineCrashed as exc:
            if await self._engine.died(dark):
                raise self._crashed(spec) from exc
            raise  # the page's renderer crashed; the engine itself is fine
        except _MAYBE_CRASH as exc:
            if await self._engine.died(dark):
                raise self._crashed(spec) from exc
            raise
        return replace(result, provider=self.id)

    async def aclose(self) -> None:
        self._closed = True
        clients = [c for _, c in self._clients.values()]
        self._clients.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        if self._owns_engine:
            await self._engine.aclose()

    # ------------------------------------------------------------------ helpers
    async def _client(self, dark: bool) -> JobApiProvider:
        base_url, token = await self._engine.endpoint(dark)
        current = self._clients.get(dark)
        if current is not None and current[0] == base_url:
            return current[1]
        client = JobApiProvider(base_url=base_url, api_key=token, extended=True, provider_id=self.id,
                                label="The local engine", capabilities=LOCAL_CAPABILITIES,
                                policy=_LOCAL_POLICY, wait_margin_s=60.0)
        # Stored before any await: a capture that arrives while the old client closes reuses this
        # one instead of making (and then overwriting, never closing) another.
        self._clients[dark] = (base_url, client)
        if current is not None:  # the engine was restarted on a new port
            with contextlib.suppress(Exception):
                await current[1].aclose()
        return client

    def _crashed(self, spec: CaptureSpec) -> CaptureError:
        log.warning("local engine stopped while capturing %s; it restarts on the next capture", spec.url)
        return EngineCrashed(f"The local engine stopped while capturing {spec.url}",
                             hint="capture again: ShotDesk restarts the engine by itself")


__all__ = ["LOCAL_CAPABILITIES", "LocalProvider"]
