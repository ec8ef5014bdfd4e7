"""Stopping background tasks: never losing the stopper's own cancellation, never waiting forever
on a task that lost its own.

Two holes, both seen as a ``stop()`` that never returned:

* The obvious way, ``task.cancel()`` then ``with suppress(CancelledError): await task``, loses the
  *caller's* cancellation: if the caller is cancelled while it waits there, asyncio delivers that
  cancellation by cancelling the awaited task (which is already unwinding), and the
  ``CancelledError`` that comes back out of ``await task`` is the caller's own, so ``suppress``
  swallows it. A worker loop whose batch ended with that pattern survived ``stop()``.
  ``asyncio.wait`` never raises the awaited task's exception, so the only ``CancelledError`` it
  raises is the caller's, which then propagates as it must.
* A library can swallow the *task's* cancellation. redis-py's asyncio client does, now and then,
  when the cancel lands while a command is in flight (redis-py issues #2028 and #2551; with
  redis-py 5.3.1, 325 of 600 cancels of a task looping on XCLAIM were lost:
  benchmarks/bench_redis_cancel.py). The task
  then carries on as if never cancelled, and one ``asyncio.wait`` waits for it forever (the
  Streams test that hung CI for an hour). So a task still running ``recancel_after_s`` after its
  cancel is cancelled again, until it ends. The loops themselves also check a stop event
  (``stream_queue.holding``, ``IngestQueue``), so they end at their next turn whatever a library
  did with the cancel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait"]

log = logging.getLogger("ragchaos.tasks")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, recancel_after_s: float = 0.5) -> None:
    """Cancel every task (so they unwind together) and wait until each has ended, cancelling
    again every ``recancel_after_s`` any task that is still running (its cancellation was lost,
    or its unwinding is slower than that; a background loop's cleanup must fit in it). An error
    a task ended with is logged by asyncio, not raised here; the caller's own cancellation is
    raised."""
    pending = {t for t in tasks if not t.done()}
    for task in pending:
        task.cancel()
    warned: set[asyncio.Task[Any]] = set()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=recancel_after_s)
        for task in pending:
            if task not in warned:
                warned.add(task)
                log.warning("task %s still running %.1f s after its cancel (a library swallowed it?): "
                            "cancelling it again", task.get_name(), recancel_after_s)
            task.cancel()
