"""The per-provider limiter with a fake clock: who waits, how long, and where waiting stops."""

from __future__ import annotations

import asyncio

import pytest

from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.core.errors import RateLimited

WALL = 1_700_000_000.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL + (self.now - 100.0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


def limiter(t: FakeTime, **kw) -> RateLimiter:
    kw.setdefault("probe_first", False)
    kw.setdefault("reset_margin", 0.0)
    return RateLimiter(clock=t.clock, wall_clock=t.wall, sleep=t.sleep, provider="Foo", **kw)


def test_no_headers_no_waiting():
    t = FakeTime()
    lim = limiter(t)

    async def main():
        for _ in range(10):
            async with lim.slot():
                lim.update({})

    asyncio.run(main())
    assert t.sleeps == []


def test_spent_budget_waits_until_the_unix_reset_time():
    t = FakeTime()
    lim = limiter(t)
    lim.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(WALL + 10))})
    assert lim.wait_needed() == pytest.approx(10)

    async def main():
        async with lim.slot():
            pass

    asyncio.run(main())
    assert t.sleeps == [pytest.approx(10)]
    assert lim.remaining == 4  # refilled to the limit, one used


def test_a_burst_takes_the_remaining_budget_then_waits_for_the_reset():
    t = FakeTime()
    lim = limiter(t, max_concurrency=None)
    lim.update({"RateLimit-Limit": "3", "RateLimit-Remaining": "2", "RateLimit-Reset": "5"})
    started: list[float] = []

    async def one():
        async with lim.slot():
            started.append(t.now)

    async def main():
        await asyncio.gather(*(one() for _ in range(5)))

    asyncio.run(main())
    # two go at once, the next three after the 5 s reset (a fresh window of 3)
    assert sorted(started) == [100.0, 100.0, 105.0, 105.0, 105.0]


def test_429_retry_after_pauses_everyone():
    t = FakeTime()
    lim = limiter(t)
    lim.update({"Retry-After": "7"}, status=429)
    assert lim.wait_needed() == pytest.approx(7)


def test_waiting_longer_than_max_wait_fails_with_the_time_to_wait():
    t = FakeTime()
    lim = limiter(t, max_wait=30)
    lim.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(WALL + 600))})

    async def main():
        async with lim.slot():
            pass

    with pytest.raises(RateLimited) as info:
        asyncio.run(main())
    assert info.value.retry_after == pytest.approx(600, abs=1)
    assert "Foo" in info.value.message
    assert t.sleeps == []


def test_concurrency_is_bounded():
    t = FakeTime()
    lim = limiter(t, max_concurrency=2)
    in_flight = 0
    peak = 0

    async def one():
        nonlocal in_flight, peak
        async with lim.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    async def main():
        await asyncio.gather(*(one() for _ in range(6)))

    asyncio.run(main())
    assert peak == 2


def test_first_request_probes_and_the_burst_waits_for_its_headers():
    t = FakeTime()
    lim = RateLimiter(clock=t.clock, wall_clock=t.wall, sleep=t.sleep, max_concurrency=None, reset_margin=0)
    order: list[str] = []

    async def one(name: str, headers: dict[str, str] | None):
        async with lim.slot():
            order.append(f"start {name}")
            await asyncio.sleep(0.01)
            if headers is not None:
                lim.update(headers)
            order.append(f"end {name}")

    async def main():
        probe = asyncio.create_task(one("a", {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"}))
        await asyncio.sleep(0)
        await asyncio.gather(probe, one("b", None), one("c", None))

    asyncio.run(main())
    assert order[:2] == ["start a", "end a"]
    assert sorted(order[2:]) == ["end b", "end c", "start b", "start c"]
    assert lim.remaining == 7


def test_reset_without_limit_forgets_the_budget():
    t = FakeTime()
    lim = limiter(t)
    lim.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"})
    assert lim.wait_needed() == pytest.approx(2)
    t.now += 3
    assert lim.wait_needed() == 0
    assert lim.remaining is None
