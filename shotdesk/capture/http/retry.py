"""The retry policy: a pure decision, tested by itself (DESIGN.md §4).

Input: which attempt just failed, how long the whole call has taken, and what came back — an
HTTP status with its headers and/or the typed error it was classified as (or the typed error a
transport failure became). Output: :class:`RetryDecision` — retry or not, and how long to wait.

Rules
* Retried: errors whose ``transient`` flag is set (``RateLimited``, ``ProviderUnavailable``,
  ``CaptureTimeout`` — connect errors, timeouts, 5xx, 408, 429 classify into these) and, when no
  typed error is given, the statuses 408, 429 and 5xx.
* Never retried: ``QuotaExceeded``, ``AuthError``, ``PlanRequired``, ``InvalidRequest``,
  ``BadResponse`` … (every non-transient error), and 400/401/402/403/404/405/413/422 when no
  typed error says otherwise. (A classifier *may* turn a 400 into ``RateLimited`` — ScreenshotOne
  reports its concurrency limit as 400 — and that is then retried.)
* Delay: the server's word first — the error's ``retry_after``, ``Retry-After`` (seconds or an
  HTTP date), ``RateLimit-Reset``/``X-RateLimit-Reset`` (seconds to wait, or a Unix time in s/ms)
  on a 429. A server asking for more than ``max_server_delay`` is not waited for (the error goes
  to the user with the time). Otherwise exponential backoff with full jitter:
  ``random() × min(max_delay, base_delay × 2^(attempt−1))``.
* Bounded: at most ``max_attempts`` attempts, and no retry whose wait would end after
  ``max_total_s`` since the first attempt.

``random``, ``wall_clock`` (for HTTP dates and Unix reset times) and ``sleep`` are injectable, so
tests get exact delays and never really wait.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from shotdesk.core.errors import CaptureError, RateLimited

#: Statuses retried when no typed error is given.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses never retried unless a classifier turned them into a transient error.
NO_RETRY_STATUSES = frozenset({400, 401, 402, 403, 404, 405, 409, 410, 413, 422})


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    #: Seconds to wait before the next attempt (0 when not retrying).
    delay: float
    #: Why, for logs and tests ("backoff", "retry-after", "attempts", "not transient", …).
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried. Immutable; share one per provider."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: No retry whose wait would end later than this after the first attempt started.
    max_total_s: float = 150.0
    #: The longest Retry-After / X-RateLimit-Reset honoured; longer → give up, tell the user.
    max_server_delay: float = 60.0
    random: Callable[[], float] = field(default=_random.random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** max(0, attempt - 1)))
        return max(0.0, float(self.random()) * ceiling)

    def decide(self, attempt: int, *, elapsed: float = 0.0, status: int | None = None,
               headers: Mapping[str, str] | None = None,
               error: BaseException | None = None) -> RetryDecision:
        """Whether to retry after attempt ``attempt`` (1-based) failed, and after how long."""
        if not _retryable(status, error):
            return RetryDecision(False, 0.0, "not transient")
        if attempt >= self.max_attempts:
            return RetryDecision(False, 0.0, "attempts")
        asked = server_delay(status, headers or {}, error, now=self.wall_clock())
        if asked is not None:
            if asked > self.max_server_delay:
                return RetryDecision(False, 0.0, "server delay too long")
            delay, reason = asked, "retry-after"
        else:
            delay, reason = self.backoff(attempt), "backoff"
        if elapsed + delay > self.max_total_s:
            return RetryDecision(False, 0.0, "total time")
        return RetryDecision(True, delay, reason)


def _retryable(status: int | None, error: BaseException | None) -> bool:
    if isinstance(error, CaptureError):
        return bool(error.transient)
    if error is not None:
        return False  # only typed errors reach the policy; anything else is a bug, not a retry
    if status is None:
        return False
    if status in NO_RETRY_STATUSES:
        return False
    return status in RETRY_STATUSES or 500 <= status <= 599


def server_delay(status: int | None, headers: Mapping[str, str], error: BaseException | None,
                 *, now: float) -> float | None:
    """Seconds the server asked to wait, or None when it did not say.

    Order: the typed error's ``retry_after`` (adapters fill it from a JSON field), ``Retry-After``
    (any retryable status), then — on a 429 only — ``RateLimit-Reset`` / ``X-RateLimit-Reset``.
    """
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return max(0.0, float(error.retry_after))
    lower = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lower.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    if status == 429 or isinstance(error, RateLimited):
        for name in ("ratelimit-reset", "x-ratelimit-reset"):
            reset = parse_reset(lower.get(name), now=now)
            if reset is not None:
                return reset
    return None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        when = _parse_date(text)
        return None if when is None else max(0.0, when - now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def parse_reset(value: str | None, *, now: float) -> float | None:
    """A rate-limit reset header as seconds from ``now``.

    Numbers are read as a Unix time when they look like one (s, ms, µs or ns since 1970), else as
    seconds to wait (the IETF ``RateLimit-Reset`` form); HTTP and ISO 8601 dates are accepted.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        when = _parse_date(text)
        return None if when is None else max(0.0, when - now)
    if not math.isfinite(number) or number < 0:
        return None
    for scale in (1e9, 1e6, 1e3, 1.0):  # ns, µs, ms, s since the epoch
        if number >= 1e9 * scale:
            return max(0.0, number / scale - now)
    return number


def _parse_date(text: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
