"""The load-delivery validity check and the figures behind it (issue 17): arrivals the load
generator dropped are failures of the run, counted apart from the app's errors."""

from __future__ import annotations

import pytest

from ragchaos.reports.analysis import ALL, figures
from ragchaos.reports.build import finalize
from ragchaos.reports.checks.evaluate import evaluate
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections import build_sections
from ragchaos.scenarios.summary import headline_lines


def _with_drops(run: RunResult, app: str, dropped: int) -> RunResult:
    out = run.model_copy(deep=True)
    out.apps[app].phases["fault"].client.dropped = dropped
    out.gate = None
    out.forget()
    return out


def _delivery(run: RunResult, app: str) -> str:
    [check] = [c for c in evaluate(run).checks if c.metric == "load_delivery" and c.app == app]
    return check.state


def test_a_run_that_delivered_its_schedule_passes_and_one_that_dropped_fails(run_result: RunResult) -> None:
    assert _delivery(run_result, "reference") == "pass"
    dropped = _with_drops(run_result, "reference", 600)
    assert _delivery(dropped, "reference") == "fail"
    assert not evaluate(dropped).passed
    # a small share stays under the bar: 6 of 666 is 0.9%
    assert _delivery(_with_drops(run_result, "reference", 6), "reference") == "pass"


def test_drops_count_in_failure_rate_and_goodput_share_not_in_the_apps_error_rate(run_result: RunResult) -> None:
    before = figures(run_result, "reference", ALL)
    run = _with_drops(run_result, "reference", 660)
    f = figures(run, "reference", ALL)
    assert f.scheduled == before.requests + 660 and f.error_rate == before.error_rate
    assert f.failure_rate == (f.requests - f.ok + 660) / f.scheduled
    assert f.goodput_share == f.goodput_ok / f.scheduled < before.goodput_share
    assert sum(f.outcome_shares().values()) == pytest.approx(1.0)
    # an error-rate check cannot pass on the few requests a starved run sent
    gate = evaluate(run)
    [err] = [c for c in gate.checks if c.expr == "reference.error_rate < 5%"]
    assert err.state == "fail"


def test_the_drops_are_in_the_headline_of_the_report_and_the_terminal(run_result: RunResult) -> None:
    run = _with_drops(run_result, "reference", 660)
    assert not any("RUN NOT VALID" in n for n in build_sections(run, only=["headline"])[0].notes)  # not judged yet
    finalize(run)  # the evaluator's verdict is what the headlines read
    [head] = build_sections(run, only=["headline"])
    rows = {r[0]: r for r in head.tables[0].rows}
    assert rows["dropped by the load generator (run failure)"][2] == "660 (50%)"
    assert any("RUN NOT VALID for reference" in n for n in head.notes)
    [line] = [x for x in headline_lines(run) if x.startswith("reference:")]
    assert "dropped 660 (50.0%)" in line and "RUN NOT VALID" in line


def test_the_outcomes_section_explains_shed_to_degraded_where_it_happened(run_result: RunResult) -> None:
    run = run_result.model_copy(deep=True)
    fault = run.apps["reference"].phases["fault"]
    fault.counters.update({'ragchaos_shed_total{reason="breaker_open"}': 12.0,
                           'ragchaos_fallback_total{kind="cache"}': 5.0,
                           'ragchaos_fallback_total{kind="retrieval_only"}': 4.0,
                           'ragchaos_fallback_total{kind="unavailable"}': 3.0})
    run.forget()
    [section] = build_sections(run, only=["outcomes"])
    rows = {(r[0], r[1]): r for r in section.tables[0].rows}
    assert rows[("reference", "fault")][4].startswith("9 (")  # degraded: 5 stale + 4 retrieval-only
    [chain] = [n for n in section.notes if n.startswith("reference (fault)")]
    assert "22 calls shed (breaker_open 12, bulkhead 10)" in chain and "5 stale cached answers" in chain
    assert "3 503s" in chain
    assert not any(n.startswith("reference (steady)") for n in section.notes)  # nothing shed there


def test_results_json_has_ok_degraded_error_dropped_per_app_and_phase(run_result: RunResult, tmp_path) -> None:
    from ragchaos.reports.build import write_reports
    from ragchaos.reports.results import load_results

    run = _with_drops(run_result, "reference", 7)
    run.apps["reference"].phases["fault"].counters['ragchaos_fallback_total{kind="cache"}'] = 4.0
    write_reports(tmp_path, run, plots=False)
    saved = load_results(tmp_path)
    fault = saved.apps["reference"].phases["fault"]
    assert fault.outcomes is not None
    assert fault.outcomes["dropped"] == 7 and fault.outcomes["degraded"] == 4
    assert fault.outcomes["ok"] + 4 + fault.outcomes["error"] == fault.client.requests
