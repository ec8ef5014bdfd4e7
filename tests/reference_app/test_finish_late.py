"""Finish late: past the deadline the caller gets DeadlineExceeded, the work runs on and is stored.

The work is a coroutine held on an event, so the test decides when it answers; the deadlines are
short real ones (the caller's wait is asyncio's), with no race: the work answers only after the
caller has given up.
"""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.reference_app.deadline import Deadline, DeadlineExceeded
from ragchaos.reference_app.finish_late import FinishLate

pytestmark = pytest.mark.anyio


class Work:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.deadlines: list[Deadline] = []
        self.cancelled = False

    async def __call__(self, deadline: Deadline) -> str:
        self.deadlines.append(deadline)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return "late answer"


async def test_the_caller_leaves_at_its_deadline_and_the_answer_is_stored_when_it_comes() -> None:
    late, work, stored = FinishLate(8.0), Work(), []
    with pytest.raises(DeadlineExceeded):
        await late.run(work, Deadline.after(0.05), stored.append)
    assert late.started_late == 1 and late.in_flight == 1 and stored == []
    assert work.deadlines[0].remaining() > 7.0  # the work runs under its own budget
    work.release.set()
    for _ in range(100):
        if stored:
            break
        await asyncio.sleep(0)
    assert stored == ["late answer"] and late.finished_late == 1 and late.in_flight == 0


async def test_in_time_the_answer_is_the_callers_and_nothing_runs_late() -> None:
    late, work, stored = FinishLate(8.0), Work(), []
    work.release.set()
    assert await late.run(work, Deadline.after(5), stored.append) == "late answer"
    assert late.started_late == 0 and stored == []


async def test_a_late_failure_stores_nothing() -> None:
    async def failing(deadline: Deadline) -> str:
        await asyncio.sleep(0.1)
        raise ConnectionError("provider went away")

    late, stored = FinishLate(8.0), []
    with pytest.raises(DeadlineExceeded):
        await late.run(failing, Deadline.after(0.01), stored.append)
    await asyncio.sleep(0.2)
    assert stored == [] and late.finished_late == 0 and late.in_flight == 0


async def test_switched_off_the_work_gets_the_callers_deadline() -> None:
    late, work = FinishLate(8.0, enabled=False), Work()
    caller = Deadline.after(5)
    work.release.set()
    await late.run(work, caller, lambda _: None)
    assert work.deadlines == [caller]


async def test_close_cancels_what_still_runs() -> None:
    late, work = FinishLate(8.0), Work()
    with pytest.raises(DeadlineExceeded):
        await late.run(work, Deadline.after(0.01), lambda _: None)
    await late.close()
    assert work.cancelled and late.in_flight == 0 and late.finished_late == 0
