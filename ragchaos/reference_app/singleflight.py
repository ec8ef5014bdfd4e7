"""Single-flight: concurrent identical misses make one upstream call.

The first caller for a key starts the work as a task of its own; callers arriving while it runs
await the same task. The task is shielded, so one impatient client disconnecting does not
cancel the work the others are waiting for. Errors are shared too (and never cached).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Task[T]] = {}
        self.shared = 0  # calls that joined an in-flight one (for tests and logs)

    def in_flight(self) -> int:
        return len(self._calls)

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(fn())
            self._calls[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        else:
            self.shared += 1
        return await asyncio.shield(task)

    def _forget(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone
