"""The request deadline: its arithmetic, and that the guard carries it into every attempt."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.deadline import Deadline, DeadlineConfig, DeadlineExceeded
from ragchaos.reference_app.resilience import (
    DependencyUnavailable,
    ResilienceSettings,
    build_guards,
    request_deadline,
)
from tests.reference_app.test_retries import FakeClock, Script, _guards, sample, timeout_error


def test_remaining_expired_and_cap_follow_the_clock() -> None:
    clock = FakeClock()
    deadline = Deadline.after(2.0, clock)
    assert deadline.remaining() == 2.0 and not deadline.expired()
    assert deadline.cap(5.0) == 2.0 and deadline.cap(0.5) == 0.5
    clock.advance(1.5)
    assert deadline.remaining() == pytest.approx(0.5)
    clock.advance(1.0)
    assert deadline.remaining() == 0.0 and deadline.expired()
    assert deadline.cap(5.0) == 0.0
    with pytest.raises(DeadlineExceeded):
        deadline.check()


def test_unbounded_and_invalid() -> None:
    deadline = Deadline.unbounded(FakeClock())
    assert deadline.remaining() == math.inf and deadline.cap(3.0) == 3.0
    deadline.check()
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError):
            Deadline.after(bad)


def test_config_attempt_timeouts() -> None:
    config = DeadlineConfig(vectordb_attempt_s=1.5)
    assert config.attempt_timeout("vectordb") == 1.5
    assert config.attempt_timeout("chat") == 8.0
    with pytest.raises(ValueError, match="redis"):
        config.attempt_timeout("redis")


def test_request_deadline_honours_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_DEADLINE__REQUEST_S", "3")
    settings = ResilienceSettings()
    clock = FakeClock()
    assert request_deadline(settings, set(), clock).remaining() == 3.0
    assert request_deadline(settings, {"deadline"}, clock).remaining() == math.inf


def test_each_attempt_gets_its_timeout_capped_by_what_is_left() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, deadline=DeadlineConfig(embeddings_attempt_s=5.0))
    op = Script("ok")
    assert asyncio.run(guards["embeddings"].call(op, deadline=Deadline.after(2.0, clock))) == "ok"
    assert op.timeouts == [2.0]
    op = Script("ok")
    asyncio.run(guards["embeddings"].call(op, deadline=Deadline.after(60, clock)))
    assert op.timeouts == [5.0]


def test_retries_see_a_shrinking_budget() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, deadline=DeadlineConfig(chat_attempt_s=4.0))
    timeouts: list[float] = []

    async def slow_then_ok(timeout: float) -> str:
        timeouts.append(timeout)
        if len(timeouts) < 3:
            clock.advance(timeout)  # the attempt used its whole timeout, then timed out
            raise timeout_error()
        return "ok"

    assert asyncio.run(guards["chat"].call(slow_then_ok, deadline=Deadline.after(10.0, clock))) == "ok"
    assert timeouts[:2] == [4.0, 4.0]
    assert timeouts[2] == pytest.approx(10.0 - 8.0 - sum(clock.sleeps))  # only what is left


def test_a_spent_deadline_fails_fast_without_calling() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock)
    op = Script("ok")
    deadline = Deadline.after(0.01, clock)  # below min_attempt_s (0.05)
    with pytest.raises(DependencyUnavailable) as raised:
        asyncio.run(guards["vectordb"].call(op, deadline=deadline))
    assert raised.value.reason == "deadline" and op.calls == 0
    assert sample(metrics, "ragchaos_shed_total", reason="deadline") == 1.0


def test_deadline_switched_off_ignores_the_request_budget() -> None:
    clock = FakeClock()
    guards, _ = _guards(clock, {"deadline"}, deadline=DeadlineConfig(vectordb_attempt_s=2.0))
    op = Script("ok")
    assert asyncio.run(guards["vectordb"].call(op, deadline=Deadline.after(0.0, clock))) == "ok"
    assert op.timeouts == [2.0]  # the attempt timeout (a client timeout) still holds


def test_a_hanging_dependency_is_cut_at_the_deadline() -> None:
    """Real time, small numbers: an op that ignores its timeout still returns control to the
    caller once the request's budget is spent. No retry is sent past the deadline and the
    breaker does not blame the dependency for our own short budget."""
    metrics = AppMetrics("reference")
    guards = build_guards(ResilienceSettings(deadline=DeadlineConfig(chat_attempt_s=5.0)), metrics, set())
    calls = 0

    async def hang(timeout: float) -> str:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()
        return "unreachable"

    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as raised:
        asyncio.run(guards["chat"].call(hang, deadline=Deadline.after(0.2)))
    assert raised.value.reason == "deadline"
    assert calls == 1
    assert time.monotonic() - started < 4.0  # far below the 5 s attempt timeout, with slack for a busy box
    assert guards["chat"].breaker.consecutive_failures == 0
