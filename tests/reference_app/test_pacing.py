"""Pacing: wait for budget instead of sending what the provider would refuse; 429 pauses all."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.pacing import Pacer, PaceTimeout, PacingConfig, TokenBucket, parse_duration
from ragchaos.reference_app.resilience import DependencyUnavailable
from tests.reference_app.test_retries import FakeClock, Script, _guards, rate_limited, sample


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("12ms", 0.012),
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("2m59.56s", 179.56),
        ("0s", 0.0),
        ("1h", 3600.0),
        ("1.5", 1.5),
    ],
)
def test_parse_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "s", "1s junk"])
def test_unparsable_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


def test_token_bucket_refills_at_the_per_minute_rate() -> None:
    bucket = TokenBucket(60, headroom=1.0, now=0.0)
    assert bucket.wait_for(60, 0.0) == 0.0
    bucket.take(60, 0.0)
    assert bucket.wait_for(1, 0.0) == pytest.approx(1.0)
    assert bucket.wait_for(1, 0.5) == pytest.approx(0.5)
    assert bucket.wait_for(1, 1.0) == 0.0
    bucket.take(1000, 1.0)  # more than the bucket holds is charged as a full bucket
    assert bucket.wait_for(1, 1.0) == pytest.approx(60.0)


def test_headroom_keeps_a_share_of_the_limit_unused() -> None:
    bucket = TokenBucket(100, headroom=0.9, now=0.0)
    assert bucket.capacity == pytest.approx(90.0)
    bucket.sync(limit=200, remaining=50, now=0.0)  # provider: 200/min, 50 left
    assert bucket.capacity == pytest.approx(180.0)
    assert bucket.level == pytest.approx(30.0)  # 50 left minus our 10 % reserve (20)


def _pacer(clock: FakeClock, rpm: float = 60, tpm: float | None = None) -> Pacer:
    return Pacer(rpm, tpm, headroom=1.0, default_pause_s=1.0, clock=clock, sleep=clock.sleep)


def test_waits_instead_of_exceeding_the_request_budget() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)

    async def scenario() -> None:
        for _ in range(60):
            await pacer.acquire(0, Deadline.after(10, clock))
        assert clock.sleeps == []
        # three more: queued one second apart, not sent at once
        waits = [await pacer.acquire(0, Deadline.after(10, clock)) for _ in range(3)]
        assert waits == pytest.approx([1.0, 1.0, 1.0])

    asyncio.run(scenario())


def test_concurrent_callers_are_spread_at_the_rate() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep_in_parallel(seconds: float) -> None:
        slept.append(seconds)  # all three wait at once: the shared clock must not move per task

    pacer = Pacer(60, None, headroom=1.0, clock=clock, sleep=sleep_in_parallel)
    pacer.requests.take(60, clock())  # budget spent

    async def scenario() -> list[float]:
        return await asyncio.gather(*(pacer.acquire(0, Deadline.after(30, clock)) for _ in range(3)))

    assert asyncio.run(scenario()) == pytest.approx([1.0, 2.0, 3.0])
    assert slept == pytest.approx([1.0, 2.0, 3.0])


def test_token_budget_paces_big_requests() -> None:
    clock = FakeClock()
    pacer = _pacer(clock, rpm=10_000, tpm=600)  # 10 tokens per second

    async def scenario() -> float:
        await pacer.acquire(600, Deadline.after(100, clock))
        return await pacer.acquire(100, Deadline.after(100, clock))

    assert asyncio.run(scenario()) == pytest.approx(10.0)


def test_a_wait_past_the_deadline_fails_fast_and_reserves_nothing() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.requests.take(60, clock())
    level = pacer.requests.level

    async def scenario() -> None:
        with pytest.raises(PaceTimeout):
            await pacer.acquire(0, Deadline.after(0.5, clock))

    asyncio.run(scenario())
    assert clock.sleeps == [] and pacer.requests.level == level


def test_headers_correct_the_budget_and_an_empty_one_pauses_until_reset() -> None:
    clock = FakeClock()
    pacer = _pacer(clock, rpm=1000)
    pacer.observe(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2s",
            "x-ratelimit-limit-tokens": "-1",  # Azure's "unknown": ignored
        }
    )
    assert pacer.requests.capacity == 60 and pacer.requests.limit == 60
    assert pacer.tokens is None or pacer.tokens.limit > 0
    assert pacer.plan(0) >= 2.0


def test_pause_holds_every_caller() -> None:
    clock = FakeClock()
    pacer = _pacer(clock, rpm=10_000)
    pacer.pause(1.5)
    pacer.pause(None)  # no Retry-After: the default pause, never shortening a longer one
    assert pacer.plan(0) == pytest.approx(1.5)
    assert pacer.pauses == 2


# --- through the guard --------------------------------------------------------------------------


def test_guard_paces_provider_calls() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, pacing=PacingConfig(embeddings_rpm=60, headroom=1.0))
    op = Script("ok")

    async def scenario() -> None:
        for _ in range(61):
            await guards["embeddings"].call(op, deadline=Deadline.after(10, clock))

    asyncio.run(scenario())
    assert op.calls == 61 and clock.sleeps == pytest.approx([1.0])


def test_a_429_pauses_the_whole_dependency_and_is_counted() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, pacing=PacingConfig(chat_rpm=10_000))
    guard = guards["chat"]
    op = Script(rate_limited({"retry-after": "2"}), "ok")
    assert asyncio.run(guard.call(op, deadline=Deadline.after(30, clock))) == "ok"
    assert guard.pacer.pauses == 1
    # the retry slept the hint (2 s plus jitter) and did not sleep again in pacing
    assert sum(clock.sleeps) == pytest.approx(2.1)
    assert sample(metrics, "ragchaos_retries_total", dependency="chat", reason="rate_limited") == 1.0
    # another caller arriving during the pause waits for it too
    guard.pacer.pause(3.0)
    other = Script("ok")
    before = clock()
    asyncio.run(guard.call(other, deadline=Deadline.after(30, clock)))
    assert clock() - before == pytest.approx(3.0)


def test_guard_fails_fast_when_the_pace_wait_outlasts_the_deadline() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock)
    guards["chat"].pacer.pause(20.0)
    op = Script("ok")
    with pytest.raises(DependencyUnavailable) as raised:
        asyncio.run(guards["chat"].call(op, deadline=Deadline.after(5, clock)))
    assert raised.value.reason == "pacing" and op.calls == 0
    assert raised.value.retry_after == pytest.approx(20.0)
    assert sample(metrics, "ragchaos_shed_total", reason="pacing") == 1.0


def test_pacing_switched_off_and_never_applied_to_the_vector_store() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, {"pacing"})
    assert guards["chat"].pacer is None and guards["embeddings"].pacer is None
    guards["chat"].observe({"x-ratelimit-remaining-requests": "0"})  # a no-op, not an error
    guards, _ = _guards(clock)
    assert guards["vectordb"].pacer is None and guards["chat"].pacer is not None


def test_burst_window_spreads_calls_at_the_rate_after_a_short_burst() -> None:
    """480 RPM at headroom 1 with a 2 s burst window: 16 at once, then one every 1/8 s; the
    provider's remaining (its own window's) does not read as an exhausted minute."""
    bucket = TokenBucket(480, headroom=1.0, now=0.0, burst_s=2.0)
    assert bucket.capacity == pytest.approx(16.0) and bucket.limit == pytest.approx(480.0)
    for _ in range(16):
        assert bucket.wait_for(1, 0.0) == 0.0
        bucket.take(1, 0.0)
    assert bucket.wait_for(1, 0.0) == pytest.approx(0.125)
    headroom = TokenBucket(480, headroom=0.9, now=0.0, burst_s=2.0)
    headroom.sync(480, 16, 0.0)  # a full provider window of 16
    assert headroom.wait_for(1, 0.0) == 0.0
