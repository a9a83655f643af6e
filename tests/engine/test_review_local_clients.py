"""Review: LocalProvider keeps one job-API client per engine; a restarted engine's clients are closed."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from shotdesk.capture.engine.manager import EngineManager
from shotdesk.capture.local import LocalProvider
from shotdesk.capture.providers.jobapi import JobApiProvider


class FakeEngine:
    """Stands in for EngineManager: answers endpoint() with whatever port it is told."""

    def __init__(self) -> None:
        self.port = 40001

    async def endpoint(self, dark: bool = False) -> tuple[str, str]:
        await asyncio.sleep(0)
        return f"http://127.0.0.1:{self.port}", "token-review-1234"

    def is_running(self, dark: bool = False) -> bool:
        return True

    async def aclose(self) -> None:
        pass


def is_closed(provider: JobApiProvider) -> bool:
    client: Any = provider._client
    return bool(client.is_closed)


def test_concurrent_captures_after_an_engine_restart_share_one_client_and_leak_none() -> None:
    async def main() -> tuple[JobApiProvider, list[JobApiProvider], list[JobApiProvider]]:
        engine = FakeEngine()
        local = LocalProvider(engine=cast(EngineManager, engine))
        created: list[JobApiProvider] = []
        original_init = JobApiProvider.__init__
        original_aclose = JobApiProvider.aclose

        def recording_init(self: JobApiProvider, **kw: Any) -> None:
            original_init(self, **kw)
            created.append(self)

        async def yielding_aclose(self: JobApiProvider) -> None:
            await asyncio.sleep(0)  # as closing a client with live keep-alive connections does
            await original_aclose(self)

        JobApiProvider.__init__ = recording_init  # type: ignore[method-assign]
        JobApiProvider.aclose = yielding_aclose  # type: ignore[method-assign]
        try:
            first = await local._client(False)
            engine.port = 40002  # the engine was restarted on a new port
            a, b = await asyncio.gather(local._client(False), local._client(False))
            open_before_close = [c for c in created if not is_closed(c)]
            await local.aclose()
        finally:
            JobApiProvider.__init__ = original_init  # type: ignore[method-assign]
            JobApiProvider.aclose = original_aclose  # type: ignore[method-assign]
        assert a is b
        return first, created, open_before_close

    first, created, open_before_close = asyncio.run(main())
    assert is_closed(first)
    assert len(open_before_close) == 1  # only the client of the running engine stays open
    assert all(is_closed(c) for c in created)  # and aclose() closes it
