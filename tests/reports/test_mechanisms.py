from __future__ import annotations

import pytest

from ragchaos.reports import mechanisms
from ragchaos.reports.results import Expectation, RunResult


def verdicts(result: RunResult, app: str, *exps: Expectation):
    r = result.model_copy(deep=True)
    r.scenario.expect = {app: list(exps)}
    return mechanisms.evaluate(r)[app]


def test_verdict_lines(run_result: RunResult) -> None:
    lines = [mechanisms.verdict_line(v) for v in mechanisms.evaluate(run_result)["reference"]]
    assert "batching: 23 chunks per provider call (expected >= 16): PASS" in lines
    assert "cache: 40% (expected >= 30%): PASS" in lines
    assert "breaker: 1 breaker openings (expected >= 1 in phase fault): PASS" in lines


def test_fail_and_phase_scoping(run_result: RunResult) -> None:
    v = verdicts(run_result, "reference",
                 Expectation(mechanism="breaker", min=1, phase="steady"),
                 Expectation(mechanism="retries", max=5),
                 Expectation(mechanism="semantic_cache", min="50%"),
                 Expectation(mechanism="bulkhead", min=1),
                 Expectation(mechanism="quotas", min=1, phase="fault"),
                 Expectation(mechanism="correctness", min=0.9))
    assert [x.verdict for x in v] == ["FAIL", "FAIL", "FAIL", "PASS", "PASS", "PASS"]
    assert v[1].measured == 19 and "429: 16" in v[1].detail
    assert v[2].measured == pytest.approx(0.25)


def test_missing_metrics_are_not_applicable_not_zero(run_result: RunResult) -> None:
    r = run_result.model_copy(deep=True)
    for phase in r.apps["naive"].phases.values():
        phase.counters = {}
        phase.provider = {}
    v = verdicts(r, "naive", Expectation(mechanism="retries", min=1), Expectation(mechanism="batching", min=1),
                 Expectation(mechanism="pacing", max=0))
    assert [x.verdict for x in v] == ["N/A", "N/A", "N/A"]
    assert mechanisms.verdict_line(v[0]) == "retries: no data (expected >= 1): N/A"


def test_unknown_mechanism_and_missing_app(run_result: RunResult) -> None:
    with pytest.raises(KeyError, match="unknown mechanism 'teleport'"):
        mechanisms.get("teleport")
    r = run_result.model_copy(deep=True)
    r.scenario.expect = {"ghost": [Expectation(mechanism="cache", min=0.1)]}
    assert mechanisms.evaluate(r)["ghost"][0].verdict == "FAIL"


def test_registry_has_the_issue_mechanisms() -> None:
    for name in ("batching", "cache", "semantic_cache", "retries", "breaker", "bulkhead", "shedding", "quotas",
                 "pacing", "fallback"):
        assert mechanisms.get(name).unit


def test_a_counter_never_incremented_counts_as_zero_for_an_app_that_reports_the_others(run_result) -> None:
    # a labelled Prometheus counter shows no sample before its first increment
    r = run_result.model_copy(deep=True)
    for phase in r.apps["naive"].phases.values():
        phase.counters = {"ragchaos_embed_batch_size_sum": 10.0, "ragchaos_embed_batch_size_count": 10.0}
    v = verdicts(r, "naive", Expectation(mechanism="retries", max=0), Expectation(mechanism="breaker", max=0),
                 Expectation(mechanism="cache", min=0.1))
    assert [(x.verdict, x.measured) for x in v] == [("PASS", 0.0), ("PASS", 0.0), ("FAIL", 0.0)]


def test_revalidation_is_kept_over_rechecked(run_result) -> None:
    r = run_result.model_copy(deep=True)
    phase = next(iter(r.apps["reference"].phases.values()))
    phase.counters.update({
        'ragchaos_cache_carried_total{layer="response",result="kept"}': 45.0,
        'ragchaos_cache_carried_total{layer="response",result="dropped"}': 5.0,
        'ragchaos_cache_carried_total{layer="semantic",result="kept"}': 0.0,
    })
    [v] = verdicts(r, "reference", Expectation(mechanism="revalidation", min="80%"))
    assert (v.verdict, v.measured) == ("PASS", pytest.approx(0.9))
    assert "45 of 50 cached answers kept" in v.detail and "response 45/50" in v.detail
    [naive] = verdicts(r, "naive", Expectation(mechanism="revalidation", min="80%"))  # it has no cache
    assert (naive.verdict, naive.measured) == ("FAIL", 0.0) and "no cached answer was re-checked" in naive.detail


def test_breaker_recovery_needs_an_opening_that_failed_fast_and_a_close(run_result: RunResult) -> None:
    """The synthetic reference breaker opened, half-opened and closed, but nothing failed fast
    while it was open: no whole cycle. With breaker_open sheds, each close is a recovery."""
    [v] = verdicts(run_result, "reference", Expectation(mechanism="breaker_recovery", min=1))
    assert v.verdict == "FAIL" and v.measured == 0
    assert "failed fast while open 0" in v.detail
    r = run_result.model_copy(deep=True)
    r.apps["reference"].phases["fault"].counters['ragchaos_shed_total{reason="breaker_open"}'] = 7
    [v] = verdicts(r, "reference", Expectation(mechanism="breaker_recovery", min=1))
    assert v.verdict == "PASS" and v.measured == 2  # the synthetic breaker closes in steady and recovery
    assert "opened 1, failed fast while open 7, half-opened 1, closed 2" in v.detail
    [v] = verdicts(run_result, "naive", Expectation(mechanism="breaker_recovery", min=1))
    assert v.verdict == "FAIL" and v.measured == 0


def test_gc_freeze_is_full_pass_time_per_minute(run_result: RunResult) -> None:
    r = run_result.model_copy(deep=True)
    v = verdicts(r, "reference", Expectation(mechanism="gc_freeze", max=100))
    assert v[0].verdict == "N/A"  # the synthetic run's apps report no collector timings
    for phase in r.apps["reference"].phases.values():
        # the unfrozen app of the ci scenario: a 200 ms full pass in every phase
        phase.counters = {**phase.counters, "ragchaos_gc_full_pass_seconds_count": 1.0,
                          "ragchaos_gc_full_pass_seconds_sum": 0.2}
    r._memo.clear()
    v = verdicts(r, "reference", Expectation(mechanism="gc_freeze", max=100))
    assert v[0].verdict == "FAIL" and v[0].measured > 100 and "full passes of 200 ms on average" in v[0].detail
    for phase in r.apps["reference"].phases.values():
        phase.counters = {**phase.counters, "ragchaos_gc_full_pass_seconds_count": 0.0,
                          "ragchaos_gc_full_pass_seconds_sum": 0.0}
    r._memo.clear()
    v = verdicts(r, "reference", Expectation(mechanism="gc_freeze", max=100))
    assert v[0].verdict == "PASS" and v[0].measured == 0
