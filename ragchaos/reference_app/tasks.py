"""Stopping background tasks without losing the stopper's own cancellation.

The obvious way, ``task.cancel()`` then ``with suppress(CancelledError): await task``, has a
hole: if the *caller* is cancelled while it waits there, asyncio delivers that cancellation by
cancelling the awaited task (which is already unwinding), and the ``CancelledError`` that comes
back out of ``await task`` is the caller's own, so ``suppress`` swallows it. The caller then
carries on as if nothing happened. A worker loop whose batch ended with that pattern (stopping
its keepalive task) survived ``stop()``, and ``stop()`` waited for it forever.

``asyncio.wait`` never raises the awaited task's exception, so the only ``CancelledError`` it
raises is the caller's, which then propagates as it must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task (so they unwind together) and wait until each has ended. An error a task
    ended with is logged by asyncio, not raised here; the caller's own cancellation is raised."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
