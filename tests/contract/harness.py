"""The contract tests' harness: providers pointed at a loopback fake, retries on a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shotdesk.capture.base import CaptureResult
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.core.spec import CaptureSpec
from tests.contract.fakes import KEY
from tests.helpers.webserver import PageServer

T = TypeVar("T")

#: A page the providers are asked to capture (never fetched: the fakes render it).
TARGET = "https://example.com/pricing?plan=pro"


class FakeClock:
    """Monotonic + wall clock whose ``sleep`` advances time instantly and records the delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._wall0 = time.time()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self._wall0 + (self.now - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class Harness:
    """Builds providers pointed at the loopback server, with injected retry timing."""

    def __init__(self, server: PageServer) -> None:
        self.server = server
        self.clock = FakeClock()

    def policy(self, **overrides: Any) -> RetryPolicy:
        kw: dict[str, Any] = {"max_attempts": 3, "base_delay": 0.5, "max_delay": 4.0,
                              "random": lambda: 0.5, "clock": self.clock.monotonic,
                              "wall_clock": self.clock.wall, "sleep": self.clock.sleep}
        kw.update(overrides)
        return RetryPolicy(**kw)

    def limiter(self, label: str) -> RateLimiter:
        return RateLimiter(provider=label, probe_first=False, max_wait=30.0, clock=self.clock.monotonic,
                           wall_clock=self.clock.wall, sleep=self.clock.sleep)

    def provider(self, cls: Any, *, api_key: str | None = KEY, base_url: str | None = None,
                 **kw: Any) -> Any:
        return cls(base_url=base_url or self.server.base_url, api_key=api_key, policy=self.policy(),
                   limiter=self.limiter(cls.label), **kw)

    def run(self, cls: Any, action: Callable[[Any], Awaitable[T]], **kw: Any) -> T:
        """Create a provider, run ``action(provider)`` in a fresh event loop, close the provider."""
        async def go() -> T:
            provider = self.provider(cls, **kw)
            try:
                return await action(provider)
            finally:
                await provider.aclose()
        return asyncio.run(go())

    def capture(self, cls: Any, spec: CaptureSpec, **kw: Any) -> CaptureResult:
        result: CaptureResult = self.run(cls, lambda p: p.capture(spec), **kw)
        return result

    def usage(self, cls: Any, **kw: Any) -> dict[str, str]:
        lines: dict[str, str] = self.run(cls, lambda p: p.usage(), **kw)
        return lines


def make_spec(provider: str, **options: Any) -> CaptureSpec:
    """A small capture (keeps the fakes' images cheap) of :data:`TARGET`."""
    base: dict[str, Any] = {"url": TARGET, "provider": provider, "width": 400, "height": 300}
    base.update(options)
    return CaptureSpec(**base)
