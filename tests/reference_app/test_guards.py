"""Guards composed in lists (guards.py): what is switched off is not in the list, the order is
the documented one, and a guard in the list does its job."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.admission import AdmissionConfig, Overloaded
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.guards import (
    AdmissionGuard,
    BreakerGuard,
    BulkheadGuard,
    DeadlineGuard,
    QuotaGuard,
)
from ragchaos.reference_app.quotas import QuotaConfig, QuotaExceeded
from ragchaos.reference_app.resilience import (
    DependencyUnavailable,
    ResilienceSettings,
    build_guards,
    build_request_guards,
)

SETTINGS = ResilienceSettings(
    quota=QuotaConfig(rate_per_s=1, burst=1), admission=AdmissionConfig(max_in_flight=1, max_wait_s=0)
)


def test_call_guards_in_order_and_a_switched_off_one_absent() -> None:
    metrics = AppMetrics("reference")
    full = build_guards(SETTINGS, metrics, set())["chat"]
    assert [type(g) for g in full.guards] == [DeadlineGuard, BreakerGuard, BulkheadGuard]
    assert full.breaker is not None and full.bulkhead is not None
    bare = build_guards(SETTINGS, AppMetrics("reference"), {"deadline", "breaker", "bulkhead"})["chat"]
    assert bare.guards == [] and bare.breaker is None and bare.bulkhead is None


def test_the_deadline_guard_refuses_a_spent_deadline_and_without_it_the_call_runs() -> None:
    async def op(timeout: float) -> str:
        return "ran"

    spent = Deadline.after(0.0)
    with_deadline = build_guards(SETTINGS, AppMetrics("reference"), {"retries"})["vectordb"]
    with pytest.raises(DependencyUnavailable, match="deadline"):
        asyncio.run(with_deadline.call(op, deadline=spent))
    without = build_guards(SETTINGS, AppMetrics("reference"), {"retries", "deadline"})["vectordb"]
    assert asyncio.run(without.call(op, deadline=spent)) == "ran"


def test_request_guards_quota_then_admission_and_each_switch_removes_one() -> None:
    both = build_request_guards(SETTINGS, AppMetrics("reference"), set())
    assert [type(g) for g in both.guards] == [QuotaGuard, AdmissionGuard]
    assert [type(g) for g in build_request_guards(SETTINGS, AppMetrics("r"), {"quotas"}).guards] == [AdmissionGuard]
    assert build_request_guards(SETTINGS, AppMetrics("r"), {"quotas", "admission"}).guards == []


def test_request_guards_refuse_over_quota_and_over_admission() -> None:
    async def scenario() -> None:
        quota_only = build_request_guards(SETTINGS, AppMetrics("reference"), {"admission"})
        async with quota_only.hold("t"):
            pass
        with pytest.raises(QuotaExceeded):  # burst 1, the second at once is over
            async with quota_only.hold("t"):
                pass
        admission_only = build_request_guards(SETTINGS, AppMetrics("reference"), {"quotas"})
        async with admission_only.hold("t"):
            with pytest.raises(Overloaded):  # one in flight at most, no wait
                async with admission_only.hold("u"):
                    pass
        async with admission_only.hold("t"):  # the slot was given back
            pass

    asyncio.run(scenario())


def test_nothing_in_the_list_admits_everything() -> None:
    async def scenario() -> int:
        guards = build_request_guards(SETTINGS, AppMetrics("reference"), {"quotas", "admission"})
        n = 0
        async with guards.hold("t"), guards.hold("t"), guards.hold("t"):
            n = 3
        return n

    assert asyncio.run(scenario()) == 3


def test_the_deadline_guard_itself_fails_fast_before_any_guard_after_it() -> None:
    from ragchaos.reference_app.guards import Call

    def shed(metric_reason: str, reason: str, retry_after: float | None) -> Exception:
        return DependencyUnavailable("chat", reason, retry_after)

    async def enter(deadline: Deadline) -> Call:
        call = Call(requested=deadline, shed=shed, min_attempt_s=0.05)
        async with DeadlineGuard().around(call):
            pass
        return call

    with pytest.raises(DependencyUnavailable, match="deadline"):
        asyncio.run(enter(Deadline.after(0.01)))
    ten = Deadline.after(10.0)
    assert asyncio.run(enter(ten)).deadline is ten  # inside the guard the request's deadline applies
