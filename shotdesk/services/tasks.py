"""TaskRegistry: the one place the window starts asyncio tasks.

qasync 0.28.0 keeps no strong reference to the tasks it starts (STYLE.md §4.3), so a task
created with ``asyncio.ensure_future`` and not stored anywhere can be garbage-collected while it
is still running. The registry keeps every task until it ends, logs exceptions nobody awaited
(they would otherwise vanish), and cancels everything at shutdown.

No Qt here: the registry works on any asyncio loop (the qasync loop in the window, a plain loop
in tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
ErrorHandler = Callable[[str, BaseException], None]


class TaskRegistry:
    """Strong references to running tasks; exceptions logged (and reported); ``cancel_all()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, on_error: ErrorHandler | None = None) -> None:
        self._loop = loop
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def set_error_handler(self, handler: ErrorHandler | None) -> None:
        """``handler(task_name, exception)`` is called on the loop for every unhandled failure."""
        self._on_error = handler

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Start ``coro`` as a task on the registry's loop and keep it alive until it ends."""
        if self._closed:
            coro.close()
            raise RuntimeError("The task registry is shut down; no new tasks can start")
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        log.error("Task %s failed", task.get_name(), exc_info=exc)
        if self._on_error is not None:
            try:
                self._on_error(task.get_name(), exc)
            except Exception:  # the reporter itself must never take the loop down
                log.exception("Error handler failed")

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(self._tasks)

    async def cancel_all(self, *, timeout_s: float = 5.0) -> None:
        """Cancel every task and wait (bounded) until they have finished; no new tasks afterwards."""
        self._closed = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                log.warning("Task %s did not stop within %.1f s", task.get_name(), timeout_s)
            del done

    def reopen(self) -> None:
        """Allow new tasks again after :meth:`cancel_all` (tests reuse one registry)."""
        self._closed = False
