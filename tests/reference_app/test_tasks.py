"""Stopping a task never swallows the stopper's own cancellation (reference_app/tasks.py).

The worker loops used to end a batch with ``keepalive.cancel(); with suppress(CancelledError):
await keepalive``. A ``stop()`` that lands while the worker waits there is delivered *through*
the keepalive task, comes back out as its CancelledError, and is suppressed: the worker keeps
looping and ``stop()`` waits for it forever (the Streams test that hung). Deterministic: the
child holds its unwinding open until the parent has been cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from ragchaos.reference_app.tasks import cancel_and_wait


async def _suppressing(task: asyncio.Task[None]) -> None:
    """The old pattern, kept here to show the test fails on it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _parent_survives_cancel(stop: Callable[[asyncio.Task[None]], Awaitable[None]]) -> bool:
    unwinding, release = asyncio.Event(), asyncio.Event()

    async def keepalive() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            unwinding.set()
            await release.wait()  # a cleanup that takes a moment (an XCLAIM in flight)
            raise

    async def worker() -> None:
        beat = asyncio.create_task(keepalive())
        await asyncio.sleep(0)
        await stop(beat)  # the batch is done: stop the keepalive
        while True:  # the worker loop carries on, unless it was cancelled
            await asyncio.sleep(0.001)

    w = asyncio.create_task(worker())
    await unwinding.wait()
    w.cancel()  # stop() lands while the worker waits for its keepalive to end
    release.set()
    done, _ = await asyncio.wait([w], timeout=1.0)  # the fixed worker ends at once; the bug never
    if not done:
        w.cancel()  # second cancel: the loop's sleep is not suppressed, so it ends now
        await asyncio.wait([w])
        return True
    return False


@pytest.mark.parametrize(("stop", "survives"), [
    (lambda t: cancel_and_wait([t]), False),
    (_suppressing, True),  # the bug: the worker outlives its cancellation
])
def test_a_cancellation_during_a_stop_reaches_the_stopper(
    stop: Callable[[asyncio.Task[None]], Awaitable[None]], survives: bool
) -> None:
    assert asyncio.run(_parent_survives_cancel(stop)) is survives


def test_cancel_and_wait_waits_until_each_task_has_ended() -> None:
    async def body() -> None:
        ended: list[int] = []

        async def slow_unwind(n: int) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                await asyncio.sleep(0.01 * n)
                ended.append(n)

        tasks = [asyncio.create_task(slow_unwind(n)) for n in range(3)]
        await asyncio.sleep(0)
        await cancel_and_wait(tasks)
        assert sorted(ended) == [0, 1, 2] and all(t.cancelled() for t in tasks)

    asyncio.run(body())


async def _swallows_first_cancel(cancels_seen: list[int]) -> None:
    """What redis-py's asyncio client sometimes does with a cancel that lands mid-command: the
    CancelledError never comes out, and the loop carries on."""
    while True:
        try:
            await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            cancels_seen.append(1)
            if len(cancels_seen) > 1:
                raise


def test_a_task_that_swallowed_its_cancel_is_cancelled_again_until_it_ends() -> None:
    async def body() -> None:
        seen: list[int] = []
        task = asyncio.create_task(_swallows_first_cancel(seen))
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait([task], recancel_after_s=0.05), 5.0)
        assert task.cancelled() and len(seen) == 2

    asyncio.run(body())


def test_one_cancel_and_one_wait_would_wait_for_it_forever() -> None:
    """The negative control: without the second cancel the task is still running."""
    async def body() -> None:
        seen: list[int] = []
        task = asyncio.create_task(_swallows_first_cancel(seen))
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.5)
        assert not done and len(seen) == 1
        task.cancel()
        await asyncio.wait([task])

    asyncio.run(body())
