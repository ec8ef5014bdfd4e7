"""Finish late: the request deadline bounds the caller's wait, not the provider's work.

When a chat call outlives the request deadline, cancelling it helps no one: the provider keeps
generating (a client disconnect does not stop a non-streamed completion, and it is billed), so
its service slot stays busy while our bulkhead, released by the cancel, lets the next call in.
Under a provider brownout that is how a deadline turns into overload: measured in the
Monday-morning scenario with a 3 s deadline, the orphaned slow calls filled the key's 8 slots,
the embeddings calls queued behind them, and 23.8% of the spike's queries failed.

So the caller gets its fallback at the deadline, and the call runs on, within its own attempt
timeout, holding its bulkhead slot for as long as it really holds the provider's; when it
answers, ``on_result`` caches the answer, so the next asker of the same question gets it. Every
late call is bounded (the work's own deadline), counted, and cancelled at shutdown.
Switch: ``finish_late`` (off: the call is cancelled at the deadline, as before).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ragchaos.reference_app.deadline import Deadline, DeadlineExceeded

__all__ = ["FinishLate"]

T = TypeVar("T")
log = logging.getLogger("ragchaos.reference")


class FinishLate:
    def __init__(self, work_budget_s: float, *, enabled: bool = True) -> None:
        self.work_budget_s = work_budget_s
        self.enabled = enabled
        self._late: set[asyncio.Task[Any]] = set()
        self.started_late = 0  # calls that outlived their caller's deadline
        self.finished_late = 0  # of those, answered (and handed to on_result)

    async def run(
        self,
        work: Callable[[Deadline], Coroutine[Any, Any, T]],
        deadline: Deadline,
        on_result: Callable[[T], object],
    ) -> T:
        """``work(work_deadline)`` for the caller until ``deadline``; past it, DeadlineExceeded
        for the caller while the work finishes in the background and ``on_result`` gets it."""
        remaining = deadline.remaining()
        if not self.enabled or remaining == float("inf"):
            return await work(deadline)
        task = asyncio.ensure_future(work(Deadline.after(max(self.work_budget_s, remaining))))
        try:
            return await asyncio.wait_for(asyncio.shield(task), remaining)
        except TimeoutError:
            self.started_late += 1
            self._late.add(task)
            task.add_done_callback(lambda t: self._done(t, on_result))
            raise DeadlineExceeded("deadline passed during the call; it finishes in the background") from None
        except asyncio.CancelledError:
            task.cancel()  # the caller itself went away (shutdown): no reason to go on
            raise

    def _done(self, task: asyncio.Task[T], on_result: Callable[[T], object]) -> None:
        self._late.discard(task)
        if task.cancelled() or task.exception() is not None:
            return  # the caller already has its fallback; the failure was counted by the guard
        self.finished_late += 1
        try:
            on_result(task.result())
        except Exception:  # a cache write must never surface in a callback
            log.exception("storing a late answer failed")

    @property
    def in_flight(self) -> int:
        return len(self._late)

    async def close(self) -> None:
        """Cancel what is still running (shutdown: nobody is left to read the answers)."""
        for task in list(self._late):
            task.cancel()
        if self._late:
            await asyncio.gather(*self._late, return_exceptions=True)
