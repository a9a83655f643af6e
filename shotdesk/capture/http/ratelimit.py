"""A per-provider rate limiter: a burst of captures waits its turn instead of running into 429s.

One :class:`RateLimiter` per provider instance (the adapters own one each). It combines

* a **concurrency bound** (``max_concurrency`` requests in flight), and
* a **budget** learned from the provider's headers — ``X-RateLimit-Limit`` / ``-Remaining`` /
  ``-Reset`` (also the IETF ``RateLimit-*`` names, and ``X-RateLimit-Window``): when the
  remaining budget, minus the requests already started, is used up, new requests wait until the
  reset time; a 429's ``Retry-After`` pauses everyone (:meth:`pause`).
* a **probe**: until the first response has told the budget, one request goes and the rest of a
  burst wait for its answer (at most ``probe_wait`` s; ``probe_first=False`` for providers that
  send no rate-limit headers at all).

Every wait is bounded by ``max_wait`` in total per request; past it the request fails with
:class:`RateLimited` carrying the time still to wait. :func:`shotdesk.capture.http.client.send`
drives it (``slot()`` around each attempt, ``update()`` with each response); adapters only
construct it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from shotdesk.capture.http.retry import parse_reset, parse_retry_after
from shotdesk.core.errors import RateLimited

_LIMIT = ("x-ratelimit-limit", "ratelimit-limit")
_REMAINING = ("x-ratelimit-remaining", "ratelimit-remaining")
_RESET = ("x-ratelimit-reset", "ratelimit-reset")
_WINDOW = ("x-ratelimit-window", "ratelimit-window")
_POLL = 0.05


class RateLimiter:
    """Concurrency bound plus header-fed request budget for one provider."""

    def __init__(self, *, max_concurrency: int | None = 4, max_wait: float = 90.0,
                 probe_first: bool = True, probe_wait: float = 10.0, reset_margin: float = 0.1,
                 provider: str = "The provider",
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.provider = provider
        self.max_wait = max_wait
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self._sem = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.limit: int | None = None
        #: The server's last word on the requests left in this window, minus those we started since.
        self.remaining: int | None = None
        self._reset_at: float | None = None  # monotonic
        self._window: float | None = None
        self._paused_until = 0.0  # monotonic
        self._budget_lock = asyncio.Lock()
        self._in_flight = 0
        # Until the first response tells the budget, one request probes and the burst waits.
        self._learned = asyncio.Event()
        self._probing = False
        self._probe_wait = probe_wait
        # Reset times arrive rounded (whole Unix seconds) and clocks differ: wake a little late.
        self._margin = reset_margin
        if not probe_first:
            self._learned.set()

    # ------------------------------------------------------------------ state from responses
    def update(self, headers: Mapping[str, str], *, status: int | None = None) -> None:
        """Learn the budget from a response's headers (call it for every response)."""
        self._learned.set()
        lower = {k.lower(): v for k, v in headers.items()}
        now_wall = self._wall()
        limit = _first_int(lower, _LIMIT)
        if limit is not None:
            self.limit = limit
        window = _first_text(lower, _WINDOW)
        if window:
            self._window = _parse_window(window)
        remaining = _first_int(lower, _REMAINING)
        reset_text = _first_text(lower, _RESET)
        reset_in = parse_reset(reset_text, now=now_wall) if reset_text else None
        if reset_in is not None:
            self._reset_at = self._clock() + reset_in + self._margin
        elif remaining is not None and self._window is not None and self._reset_at is None:
            self._reset_at = self._clock() + self._window
        if remaining is not None:
            # Requests still in flight (other than the one answered now) may not be counted yet.
            self.remaining = max(0, remaining - max(0, self._in_flight - 1))
        if status == 429:
            wait = parse_retry_after(lower.get("retry-after"), now=now_wall)
            if wait is None:
                wait = reset_in
            if wait is not None:
                self.pause(wait + self._margin)
            self.remaining = 0 if self.remaining is None else min(self.remaining, 0)

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` (a 429's Retry-After)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    # ------------------------------------------------------------------ waiting
    def wait_needed(self) -> float:
        """Seconds a new request would have to wait now (0 when it may go)."""
        now = self._clock()
        wait = max(0.0, self._paused_until - now)
        if self.remaining is not None and self.remaining <= 0:
            if self._reset_at is None:
                if self._in_flight > 0:
                    # Budget spent, reset unknown: the answers in flight will tell; look again soon.
                    wait = max(wait, _POLL)
                else:
                    # Nothing in flight will tell us: trust the server's 429 and its Retry-After
                    # rather than blocking forever.
                    self.remaining = None
            elif self._reset_at <= now:
                self._refill()
            else:
                wait = max(wait, self._reset_at - now)
        elif self._reset_at is not None and self._reset_at <= now:
            self._refill()
        return wait

    def _refill(self) -> None:
        self.remaining = self.limit  # None when the limit is unknown: the next response says
        self._reset_at = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a concurrency slot and for budget; hold the slot while the body runs."""
        if self._sem is not None:
            await self._sem.acquire()
        try:
            await self._wait_for_probe()
            await self._wait_for_budget()
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1
                if self._probing:
                    self._probing = False
                    self._learned.set()  # the probe failed without headers: let the rest go
        finally:
            if self._sem is not None:
                self._sem.release()

    async def _wait_for_probe(self) -> None:
        if self._learned.is_set():
            return
        if not self._probing:
            self._probing = True
            return
        # A slow probe (a long render): go anyway after probe_wait; the 429 path still holds.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._learned.wait(), timeout=self._probe_wait)

    async def _wait_for_budget(self) -> None:
        waited = 0.0
        for _ in range(1000):  # bounded: each round either proceeds or sleeps until a reset
            async with self._budget_lock:
                wait = self.wait_needed()
                if wait <= 0:
                    if self.remaining is not None:
                        self.remaining -= 1  # reserve: the burst behind us sees it
                    return
            if waited + wait > self.max_wait:
                raise RateLimited(
                    f"{self.provider} allows no more requests right now (rate limit)",
                    retry_after=round(wait, 1),
                    hint=f"wait about {max(1, round(wait))} s and capture again",
                )
            await self._sleep(wait)
            waited += wait
        raise RateLimited(f"{self.provider} kept refusing new requests (rate limit)")


def _first_text(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _first_int(headers: Mapping[str, str], names: tuple[str, ...]) -> int | None:
    text = _first_text(headers, names)
    if text is None:
        return None
    try:
        return int(float(text.split(",", 1)[0].split(";", 1)[0]))
    except ValueError:
        return None


def _parse_window(text: str) -> float | None:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    text = text.strip().lower()
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * units[unit]
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None
