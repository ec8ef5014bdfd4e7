"""Micro-batching with a fake embed function: batch sizes, dedupe, fan-out, errors, the switch."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.reference_app.batching import BatchConfig, MicroBatcher
from ragchaos.reference_app.deadline import Deadline, DeadlineExceeded

pytestmark = pytest.mark.anyio


class FakeProvider:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    async def __call__(self, texts: list[str], deadline: Deadline) -> list[list[float]]:
        self.calls.append(list(texts))
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("provider down")
        return [[float(len(t)), float(sum(map(ord, t)))] for t in texts]


def vec(t: str) -> list[float]:
    return [float(len(t)), float(sum(map(ord, t)))]


FOREVER = Deadline.unbounded()


async def test_concurrent_requests_share_calls_up_to_max_items() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=4, max_wait_s=10.0))
    texts = [f"text {i}" for i in range(8)]
    results = await asyncio.gather(*(b.embed([t], FOREVER) for t in texts))
    assert [r[0] for r in results] == [vec(t) for t in texts]
    assert [len(c) for c in fake.calls] == [4, 4]


async def test_a_partial_batch_goes_out_after_max_wait() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=64, max_wait_s=0.001))
    results = await asyncio.gather(b.embed(["a"], FOREVER), b.embed(["b", "c"], FOREVER))
    assert results == [[vec("a")], [vec("b"), vec("c")]]
    assert fake.calls == [["a", "b", "c"]]  # all submitted before the timer fired


async def test_duplicates_are_sent_once_and_fanned_out() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=64, max_wait_s=0.001))
    r1, r2 = await asyncio.gather(b.embed(["same", "x", "same"], FOREVER), b.embed(["same"], FOREVER))
    assert fake.calls == [["same", "x"]]
    assert r1 == [vec("same"), vec("x"), vec("same")] and r2 == [vec("same")]


async def test_a_big_request_is_split_by_max_items() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=16, max_wait_s=0.001))
    texts = [f"chunk {i}" for i in range(200)]
    assert await b.embed(texts, FOREVER) == [vec(t) for t in texts]
    assert len(fake.calls) == 13 and max(len(c) for c in fake.calls) == 16


async def test_char_budget_splits_batches() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=64, max_wait_s=0.001, max_chars=10))
    await b.embed(["aaaaaa", "bbbbbb", "cc"], FOREVER)
    assert fake.calls == [["aaaaaa"], ["bbbbbb", "cc"]]


async def test_errors_reach_every_caller_and_nothing_is_left_behind() -> None:
    fake = FakeProvider(fail=True)
    b = MicroBatcher(fake, BatchConfig(max_items=64, max_wait_s=0.001))
    results = await asyncio.gather(b.embed(["a"], FOREVER), b.embed(["b"], FOREVER), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    fake.fail = False
    assert await b.embed(["a"], FOREVER) == [vec("a")]  # the failure was not remembered


async def test_switched_off_sends_one_text_per_call() -> None:
    fake = FakeProvider()
    b = MicroBatcher(fake, BatchConfig(max_items=64), enabled=False)
    await b.embed(["a", "b", "c"], FOREVER)
    assert fake.calls == [["a"], ["b"], ["c"]]


async def test_a_caller_waits_no_longer_than_its_deadline() -> None:
    release = asyncio.Event()

    async def slow(texts: list[str], deadline: Deadline) -> list[list[float]]:
        await release.wait()
        return [[0.0] for _ in texts]

    now = [100.0]
    b = MicroBatcher(slow, BatchConfig(max_items=1))
    with pytest.raises(DeadlineExceeded):
        await b.embed(["a"], Deadline.after(0.0, clock=lambda: now[0]))
    release.set()


class GatedProvider(FakeProvider):
    """Holds every call until released, so the test decides when a call is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def __call__(self, texts: list[str], deadline: Deadline) -> list[list[float]]:
        self.calls.append(list(texts))
        await self.gate.wait()
        return [vec(t) for t in texts]


async def _until(check: object) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_group_commit_texts_arriving_while_every_slot_is_busy_leave_together() -> None:
    gated = GatedProvider()
    b = MicroBatcher(gated, BatchConfig(max_items=3, max_wait_s=0.0, max_concurrent=1))
    first = asyncio.ensure_future(b.embed(["a"], FOREVER))
    await _until(lambda: len(gated.calls) == 1)
    later = [asyncio.ensure_future(b.embed([t], FOREVER)) for t in ("b", "c", "d", "e")]
    await asyncio.sleep(0.01)  # their timers fire; the one slot is busy, so they wait
    assert gated.calls == [["a"]]
    gated.gate.set()
    assert await first == [vec("a")]
    assert [await f for f in later] == [[vec(t)] for t in ("b", "c", "d", "e")]
    # one call for "a", then the four waiting texts in calls of at most max_items
    assert gated.calls == [["a"], ["b", "c", "d"], ["e"]]


async def test_group_commit_without_a_cap_sends_each_batch_at_once() -> None:
    gated = GatedProvider()
    b = MicroBatcher(gated, BatchConfig(max_items=3, max_wait_s=0.0))
    pending = [asyncio.ensure_future(b.embed([t], FOREVER)) for t in ("a",)]
    await _until(lambda: len(gated.calls) == 1)
    pending += [asyncio.ensure_future(b.embed([t], FOREVER)) for t in ("b", "c")]
    await _until(lambda: len(gated.calls) == 2)
    gated.gate.set()
    await asyncio.gather(*pending)
    assert gated.calls == [["a"], ["b", "c"]]


async def test_a_waiting_text_whose_deadline_passed_is_not_sent() -> None:
    gated = GatedProvider()
    now = [0.0]
    short = Deadline.after(1.0, clock=lambda: now[0])
    b = MicroBatcher(gated, BatchConfig(max_items=8, max_wait_s=0.0, max_concurrent=1))
    first = asyncio.ensure_future(b.embed(["a"], FOREVER))
    await _until(lambda: len(gated.calls) == 1)
    gone = asyncio.ensure_future(b.embed(["late"], short))
    kept = asyncio.ensure_future(b.embed(["kept"], FOREVER))
    await asyncio.sleep(0.01)
    now[0] = 2.0  # "late"'s only caller has given up
    gated.gate.set()
    await first
    assert await kept == [vec("kept")]
    with pytest.raises(DeadlineExceeded):
        await gone
    assert gated.calls == [["a"], ["kept"]]


def test_a_refused_text_fails_only_its_own_callers_and_is_sent_twice_not_once_per_level() -> None:
    """One caller's poison shares a call with another caller's texts: only the poison's caller fails."""
    sent: list[list[str]] = []

    class Refused(Exception):
        pass

    async def embed_many(batch: list[str], deadline: Deadline) -> list[int]:
        sent.append(list(batch))
        if any(len(t) > 100 for t in batch):
            raise Refused("input over the limit")
        return [len(t) for t in batch]

    async def body() -> None:
        b = MicroBatcher(embed_many, BatchConfig(max_items=64, max_wait_s=0.01),
                         refused=lambda exc: isinstance(exc, Refused))
        good = asyncio.ensure_future(b.embed([f"text {i}" for i in range(30)], Deadline.after(10)))
        bad = asyncio.ensure_future(b.embed(["x" * 500, "fine"], Deadline.after(10)))
        assert await good == [len(f"text {i}") for i in range(30)]
        with pytest.raises(Refused):
            await bad

    asyncio.run(body())
    assert len(sent) == 3 and sum("x" * 500 in batch for batch in sent) == 2  # whole, then alone; the rest once
