"""Circuit breaker: opens after N unhealthy outcomes, lets exactly one probe through when
half-open, closes on its success; 4xx, insufficient_quota and 429 never open it."""

from __future__ import annotations

import asyncio

import openai
import pytest

from ragchaos.measure.metrics import BREAKER_STATE_VALUE
from ragchaos.reference_app.breaker import BreakerConfig, BreakerOpen, CircuitBreaker, Transition
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import DependencyUnavailable, breaker_stats
from tests.reference_app.test_retries import (
    FakeClock,
    Script,
    _guards,
    connection_error,
    insufficient_quota,
    rate_limited,
    sample,
    status_error,
)

CONFIG = BreakerConfig(failure_threshold=3, reset_timeout_s=5.0)


def _breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("vectordb", CONFIG, clock=clock, wall=lambda: 1_700_000_000.0 + clock())


def test_opens_after_threshold_consecutive_failures_only() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(2):
        breaker.record(breaker.admit(), "failure")
    breaker.record(breaker.admit(), "success")  # a success resets the run
    for _ in range(2):
        breaker.record(breaker.admit(), "failure")
    assert breaker.state == "closed"
    breaker.record(breaker.admit(), "neutral")  # 4xx and friends neither count nor reset
    assert breaker.state == "closed"
    breaker.record(breaker.admit(), "failure")
    assert breaker.state == "open"


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(CONFIG.failure_threshold):
        breaker.record(breaker.admit(), "failure")
    assert breaker.state == "open"


def test_open_fails_fast_with_time_left_until_half_open() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(2.0)
    with pytest.raises(BreakerOpen) as raised:
        breaker.admit()
    assert raised.value.retry_after == pytest.approx(3.0)
    assert breaker.state == "open"


def test_half_open_admits_exactly_one_probe_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(5.0)
    probe = breaker.admit()
    assert probe.probe and breaker.state == "half_open"
    for _ in range(3):
        with pytest.raises(BreakerOpen) as raised:
            breaker.admit()
        assert raised.value.state == "half_open"
    breaker.record(probe, "success")
    assert breaker.state == "closed"
    assert not breaker.admit().probe


def test_failed_probe_reopens_for_a_full_reset_timeout() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(6.0)
    breaker.record(breaker.admit(), "failure")
    assert breaker.state == "open"
    clock.advance(4.9)
    with pytest.raises(BreakerOpen):
        breaker.admit()
    clock.advance(0.1)
    assert breaker.admit().probe


def test_neutral_probe_frees_the_slot_for_the_next_caller() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(5.0)
    breaker.record(breaker.admit(), "neutral")  # e.g. a 400, or the probe was cancelled
    assert breaker.state == "half_open"
    assert breaker.admit().probe


def test_outcomes_of_calls_admitted_under_an_earlier_state_are_ignored() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    stale = breaker.admit()  # admitted while closed, still in flight
    _open(breaker)
    clock.advance(5.0)
    probe = breaker.admit()
    breaker.record(stale, "success")  # must not close the breaker: only the probe decides
    assert breaker.state == "half_open"
    breaker.record(probe, "success")
    assert breaker.state == "closed"
    breaker.record(stale, "failure")
    assert breaker.consecutive_failures == 0


def test_transitions_are_kept_with_timestamps_and_sent_to_listeners() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    heard: list[Transition] = []
    breaker.add_listener(heard.append)
    _open(breaker)
    clock.advance(5.0)
    breaker.record(breaker.admit(), "success")
    moves = [(t.from_state, t.to_state) for t in breaker.transitions]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert heard == list(breaker.transitions)
    assert [t.at - 1_700_000_000.0 for t in breaker.transitions] == [1000.0, 1005.0, 1005.0]


# --- through the guard --------------------------------------------------------------------------


def _fail_n(guard, clock: FakeClock, error: BaseException, n: int) -> None:
    for _ in range(n):
        with pytest.raises((DependencyUnavailable, type(error))):
            asyncio.run(guard.call(Script(error), deadline=Deadline.after(30, clock)))


@pytest.mark.parametrize(
    "error",
    [status_error(400), insufficient_quota(), rate_limited({"retry-after": "0.1"}), status_error(404)],
    ids=["400", "insufficient_quota", "429", "404"],
)
def test_client_errors_and_rate_limits_never_open_the_breaker(error: BaseException) -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, breaker=CONFIG)
    _fail_n(guards["chat"], clock, error, 10)
    assert guards["chat"].state == "closed"


def test_guard_opens_on_unhealthy_failures_and_reports_metrics() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, breaker=CONFIG)
    guard = guards["vectordb"]
    _fail_n(guard, clock, connection_error(), 3)
    assert guard.state == "open"
    assert sample(metrics, "ragchaos_breaker_state", dependency="vectordb") == BREAKER_STATE_VALUE["open"]
    assert sample(metrics, "ragchaos_breaker_transitions_total", dependency="vectordb", to="open") == 1.0
    op = Script("never called")
    with pytest.raises(DependencyUnavailable) as raised:
        asyncio.run(guard.call(op, deadline=Deadline.after(30, clock)))
    assert raised.value.reason == "breaker_open" and raised.value.retry_after is not None
    assert op.calls == 0
    assert sample(metrics, "ragchaos_shed_total", reason="breaker_open") == 1.0
    stats = breaker_stats(guards)["breakers"]
    assert stats["vectordb"]["state"] == "open"
    assert [t["to_state"] for t in stats["vectordb"]["transitions"]] == ["open"]
    assert stats["chat"]["state"] == "closed"


def test_concurrent_callers_in_half_open_fail_fast_while_the_single_probe_runs() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, breaker=CONFIG)
    guard = guards["vectordb"]
    _fail_n(guard, clock, status_error(503), 3)
    clock.advance(CONFIG.reset_timeout_s)

    async def scenario() -> tuple[list[object], int]:
        release = asyncio.Event()
        probes = 0

        async def slow_probe(timeout: float) -> str:
            nonlocal probes
            probes += 1
            await release.wait()
            return "recovered"

        probe = asyncio.create_task(guard.call(slow_probe, deadline=Deadline.after(30, clock)))
        await asyncio.sleep(0)
        assert guard.state == "half_open"
        others = await asyncio.gather(
            *(guard.call(slow_probe, deadline=Deadline.after(30, clock)) for _ in range(5)),
            return_exceptions=True,
        )
        release.set()
        return [await probe, *others], probes

    results, probes = asyncio.run(scenario())
    assert probes == 1
    assert results[0] == "recovered"
    assert all(isinstance(r, DependencyUnavailable) and r.reason == "breaker_open" for r in results[1:])
    assert guard.state == "closed"
    assert sample(metrics, "ragchaos_breaker_state", dependency="vectordb") == BREAKER_STATE_VALUE["closed"]
    for to in ("open", "half_open", "closed"):
        assert sample(metrics, "ragchaos_breaker_transitions_total", dependency="vectordb", to=to) == 1.0


def test_the_probe_gets_one_attempt_and_a_failure_reopens() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, breaker=CONFIG)
    guard = guards["chat"]
    _fail_n(guard, clock, status_error(500), 3)
    clock.advance(CONFIG.reset_timeout_s)
    probe = Script(status_error(500), "ok")
    with pytest.raises(DependencyUnavailable):
        asyncio.run(guard.call(probe, deadline=Deadline.after(30, clock)))
    assert probe.calls == 1  # no retries on a probe: one request tells us what we need
    assert guard.state == "open"


def test_a_cancelled_probe_does_not_wedge_the_breaker_half_open() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, breaker=CONFIG)
    guard = guards["chat"]
    _fail_n(guard, clock, status_error(500), 3)
    clock.advance(CONFIG.reset_timeout_s)

    async def scenario() -> object:
        async def hang(timeout: float) -> str:
            await asyncio.Event().wait()
            return "unreachable"

        task = asyncio.create_task(guard.call(hang, deadline=Deadline.after(30, clock)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await guard.call(Script("ok"), deadline=Deadline.after(30, clock))

    assert asyncio.run(scenario()) == "ok"
    assert guard.state == "closed"


def test_breaker_switched_off_never_opens() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, {"breaker"}, breaker=CONFIG)
    _fail_n(guards["vectordb"], clock, connection_error(), 10)
    op = Script("ok")
    assert asyncio.run(guards["vectordb"].call(op, deadline=Deadline.after(30, clock))) == "ok"
    assert breaker_stats(guards)["breakers"]["vectordb"]["state"] == "disabled"


def test_bad_request_passes_through_the_guard_unchanged() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock)
    err = status_error(400)
    with pytest.raises(openai.BadRequestError) as raised:
        asyncio.run(guards["chat"].call(Script(err), deadline=Deadline.after(30, clock)))
    assert raised.value is err


def test_default_breaker_serves_again_within_2_5_s_of_the_dependency_recovering() -> None:
    """An outage that outlasts several probes: once the dependency is back, the default breaker
    lets traffic through again within 2.5 s (the 5 s default shed for up to 5 s after a
    provider outage ended, the provider-outage scenario's recovery errors)."""
    clock = FakeClock()
    breaker = CircuitBreaker("embeddings", BreakerConfig(), clock=clock)
    down_until = clock() + 15.5  # ends just after a probe failed: the worst case
    recovered_at = None
    while clock() < down_until + 15.0:
        try:
            ticket = breaker.admit()
        except BreakerOpen:
            clock.advance(0.1)
            continue
        breaker.record(ticket, "failure" if clock() < down_until else "success")
        if clock() >= down_until and breaker.state == "closed":
            recovered_at = clock()
            break
        clock.advance(0.1)
    assert recovered_at is not None and recovered_at - down_until <= 2.5
