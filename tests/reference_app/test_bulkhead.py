"""Bulkheads and admission control: a hard cap, a short wait, then a fast shed with Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.admission import AdmissionConfig, AdmissionControl, Overloaded
from ragchaos.reference_app.bulkhead import Bulkhead, BulkheadConfig, BulkheadFull
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import (
    DependencyUnavailable,
    ResilienceSettings,
    breaker_stats,
    build_admission,
)
from tests.reference_app.test_retries import FakeClock, _guards, sample


def test_sheds_at_the_cap_without_waiting_when_max_wait_is_zero() -> None:
    async def scenario() -> Bulkhead:
        bulkhead = Bulkhead("vectordb", 2, max_wait_s=0, retry_after_s=0.5)
        await bulkhead.acquire()
        await bulkhead.acquire()
        with pytest.raises(BulkheadFull) as raised:
            await bulkhead.acquire()
        assert raised.value.retry_after == 0.5
        bulkhead.release()
        await bulkhead.acquire()  # a freed slot is usable again
        return bulkhead

    bulkhead = asyncio.run(scenario())
    assert bulkhead.in_flight == 2 and bulkhead.peak == 2


def test_a_waiter_gets_a_slot_freed_during_its_wait() -> None:
    async def scenario() -> int:
        bulkhead = Bulkhead("chat", 1, max_wait_s=30)  # generous: the release comes first anyway
        await bulkhead.acquire()
        waiter = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        bulkhead.release()
        await waiter
        return bulkhead.in_flight

    assert asyncio.run(scenario()) == 1


def test_a_waiter_is_shed_after_max_wait() -> None:
    async def scenario() -> None:
        bulkhead = Bulkhead("chat", 1, max_wait_s=0.01)
        async with bulkhead.slot():
            with pytest.raises(BulkheadFull):
                await bulkhead.acquire()
        assert bulkhead.in_flight == 0

    asyncio.run(scenario())


def test_slot_releases_on_error() -> None:
    async def scenario() -> int:
        bulkhead = Bulkhead("chat", 1, max_wait_s=0)
        with pytest.raises(RuntimeError):
            async with bulkhead.slot():
                raise RuntimeError("op failed")
        async with bulkhead.slot():
            return bulkhead.in_flight

    assert asyncio.run(scenario()) == 1


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Bulkhead("chat", 0)
    with pytest.raises(ValueError, match="dependency"):
        BulkheadConfig().limit("redis")


def _hold(guard, clock: FakeClock, n: int):
    """Start ``n`` guarded calls that block until the returned event is set."""
    release = asyncio.Event()
    started = 0

    async def op(timeout: float) -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "done"

    tasks = [asyncio.create_task(guard.call(op, deadline=Deadline.after(30, clock))) for _ in range(n)]
    return release, tasks, lambda: started


def test_guard_sheds_at_its_cap_and_counts_it() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, bulkhead=BulkheadConfig(vectordb=2, max_wait_s=0, retry_after_s=0.25))

    async def scenario() -> None:
        release, tasks, started = _hold(guards["vectordb"], clock, 2)
        await asyncio.sleep(0)
        with pytest.raises(DependencyUnavailable) as raised:
            await guards["vectordb"].call(lambda t: asyncio.sleep(0), deadline=Deadline.after(30, clock))
        assert raised.value.reason == "bulkhead_full" and raised.value.retry_after == 0.25
        # another dependency's pool is separate: chat still has room
        assert await guards["chat"].call(_ok, deadline=Deadline.after(30, clock)) == "ok"
        release.set()
        assert await asyncio.gather(*tasks) == ["done", "done"]
        assert started() == 2

    asyncio.run(scenario())
    assert sample(metrics, "ragchaos_shed_total", reason="bulkhead_vectordb") == 1.0
    assert breaker_stats(guards)["bulkheads"]["vectordb"] == {"limit": 2, "in_flight": 0, "peak": 2}
    assert guards["vectordb"].state == "closed"  # shedding is not the dependency's fault


async def _ok(timeout: float) -> str:
    return "ok"


def test_bulkhead_switched_off_has_no_cap() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, {"bulkhead"}, bulkhead=BulkheadConfig(vectordb=1, max_wait_s=0))

    async def scenario() -> list[str]:
        release, tasks, started = _hold(guards["vectordb"], clock, 5)
        await asyncio.sleep(0)
        assert started() == 5
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == ["done"] * 5
    assert sample(metrics, "ragchaos_shed_total", reason="bulkhead_vectordb") == 0.0


# --- admission control --------------------------------------------------------------------------


def test_admission_sheds_past_max_in_flight_with_retry_after() -> None:
    metrics = AppMetrics("reference")
    admission = AdmissionControl(AdmissionConfig(max_in_flight=2, max_wait_s=0, retry_after_s=2.0), metrics)

    async def scenario() -> None:
        async with admission.slot(), admission.slot():
            assert admission.in_flight == 2
            with pytest.raises(Overloaded) as raised:
                async with admission.slot():
                    pytest.fail("admitted past the cap")
            assert raised.value.reason == "admission" and raised.value.retry_after == 2.0
        async with admission.slot():
            assert admission.in_flight == 1

    asyncio.run(scenario())
    assert sample(metrics, "ragchaos_shed_total", reason="admission") == 1.0


def test_admission_switched_off_admits_everyone() -> None:
    metrics = AppMetrics("reference")
    settings = ResilienceSettings(admission=AdmissionConfig(max_in_flight=1, max_wait_s=0))
    admission = build_admission(settings, metrics, {"admission"})

    async def scenario() -> None:
        async with admission.slot(), admission.slot(), admission.slot():
            pass

    asyncio.run(scenario())
    assert sample(metrics, "ragchaos_shed_total", reason="admission") == 0.0
