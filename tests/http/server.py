"""A scriptable aiohttp server on 127.0.0.1 for the HTTP tests, running in the test's own loop.

Routes are plain aiohttp handlers; every request is recorded (method, path, query, headers, body)
before the handler runs, so tests can assert on the exact request the client sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ScriptedServer:
    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.routes: dict[tuple[str, str], Handler] = {}
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.query),
                              {k.lower(): v for k, v in request.headers.items()}, body,
                              request.query_string))
        return await handler(request)

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (exact path; ``*`` for any method) with ``handler``."""
        self.routes[(method.upper(), path)] = handler

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.routes.get((request.method, request.path)) or self.routes.get(("*", request.path))
        if handler is None:
            for (method, pattern), candidate in self.routes.items():
                if pattern.endswith("*") and request.path.startswith(pattern[:-1]) and (
                        method in ("*", request.method)):
                    handler = candidate
                    break
        if handler is None:
            return web.json_response({"detail": "Not Found"}, status=404)
        return await handler(request)

    def hits(self, path: str, method: str | None = None) -> int:
        return sum(1 for s in self.seen if s.path == path and (method is None or s.method == method))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class RecordingSleep:
    """Stands in for asyncio.sleep in policies and limiters: records, yields, never waits.

    ``clock`` is the monotonic clock moved forward by every recorded sleep, so limiters and
    deadlines that share it see the time pass that the sleeps stood for.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.offset = 0.0

    def clock(self) -> float:
        return time.monotonic() + self.offset

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.offset += max(0.0, seconds)
        await asyncio.sleep(0)


async def raw_server(respond: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
                     ) -> tuple[asyncio.Server, int]:
    """A bare TCP server on 127.0.0.1 for answers aiohttp will not send (truncated bodies)."""
    server = await asyncio.start_server(respond, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    return server, port
