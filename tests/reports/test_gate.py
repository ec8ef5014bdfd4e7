from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragchaos.cli import main
from ragchaos.reports.gate import GateError, make_baseline, parse_check, run_gate
from ragchaos.reports.results import RunResult
from tests.reports.synthetic import build_run


@pytest.fixture(scope="module")
def slower() -> RunResult:
    return build_run(latency_scale={"reference": 1.2})


def failed(gate) -> list[str]:
    return [c.name for c in gate.checks if not c.passed]


def test_passes_on_two_identical_runs(run_result: RunResult) -> None:
    baseline = make_baseline([run_result])
    gate = run_gate([build_run()], baseline=baseline)
    assert gate.passed, [c.reason for c in gate.checks if not c.passed]
    assert any(c.name.startswith("regression:") for c in gate.checks)


def test_fails_on_a_twenty_percent_p99_regression(run_result: RunResult, slower: RunResult) -> None:
    gate = run_gate([slower], baseline=make_baseline([run_result]), max_regression=0.10)
    names = failed(gate)
    assert "regression: reference.response.query.p99" in names
    assert "regression: reference.query.total.p99" in names
    assert not any(n.startswith("regression: naive.") for n in names)  # naive did not change
    reason = next(c.reason for c in gate.checks if c.name == "regression: reference.response.query.p99")
    assert "+20" in reason and "allowed +10%" in reason


def test_a_regression_within_the_allowance_or_below_the_floor_is_not_one(run_result, slower) -> None:
    baseline = make_baseline([run_result])
    assert run_gate([slower], baseline=baseline, max_regression=0.25).passed
    # 20% of a few hundred ms is ~100 ms: a 1 s floor calls it noise
    assert run_gate([slower], baseline=baseline, floor_us=1_000_000).passed


def test_median_of_runs_ignores_one_outlier(run_result: RunResult, slower: RunResult) -> None:
    baseline = make_baseline([run_result])
    much_slower = build_run(latency_scale={"reference": 3.0})
    assert not run_gate([much_slower], baseline=baseline).passed
    assert run_gate([run_result, much_slower, build_run()], baseline=baseline).passed
    assert not run_gate([slower, much_slower, slower], baseline=baseline).passed


def test_thresholds_from_the_scenario(run_result: RunResult) -> None:
    gate = run_gate([run_result], extra_exprs=[
        "reference.query.total.p99 < 100ms",
        "naive.fault.error_rate < 1%",
        "reference.goodput > 4x naive",
        "reference.error_rate.shed <= 5%",
        "naive.steady.response.query.p50 < 1s",
        "reference.mechanism.batching >= 16",
        "reference.hit_at_k > 90%",
    ], include_mechanisms=False)
    by_expr = {c.expr: c for c in gate.checks}
    assert by_expr["reference.query.total.p99 < 2s"].passed  # from the scenario
    assert not by_expr["reference.query.total.p99 < 100ms"].passed
    assert "reference.query.total.p99 = 454 ms, not < 100 ms" in by_expr["reference.query.total.p99 < 100ms"].reason
    assert not by_expr["naive.fault.error_rate < 1%"].passed
    assert not by_expr["reference.goodput > 4x naive"].passed
    assert "4 x naive" in by_expr["reference.goodput > 4x naive"].reason
    assert by_expr["reference.error_rate.shed <= 5%"].passed
    assert by_expr["naive.steady.response.query.p50 < 1s"].passed
    assert by_expr["reference.mechanism.batching >= 16"].passed
    assert by_expr["reference.hit_at_k > 90%"].passed


def test_missing_data_fails_with_a_reason(run_result: RunResult) -> None:
    gate = run_gate([run_result], extra_exprs=["reference.spike.error_rate < 1%", "other.error_rate < 1%",
                                               "reference.ttft.p99 < 1s", "reference.query.cache.p99 < 1s"],
                    include_mechanisms=False)
    reasons = {c.expr: c.reason for c in gate.checks if not c.passed}
    assert "no phase 'spike'" in reasons["reference.spike.error_rate < 1%"]
    assert "no app 'other'" in reasons["other.error_rate < 1%"]
    assert "no data for reference.query.cache.p99" in reasons["reference.query.cache.p99 < 1s"]
    assert "reference.ttft.p99 < 1s" not in reasons  # ttft was recorded


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("reference.query.total.p99 < 800", "needs a time unit"),
        ("reference.query.total.p99 800ms", "expected PATH OP VALUE"),
        ("reference.bogus < 1", "unknown metric 'bogus'"),
        ("reference.error_rate < 1ms", "unit 'ms' does not apply"),
        ("reference.error_rate.teapot < 1%", "unknown error class 'teapot'"),
        ("reference.throughput > 5%", "% applies to ratios"),
        ("reference.query.total < 1s", "STAGE.STAT"),
        ("reference.mechanism.warp_drive > 1", "unknown mechanism 'warp_drive'"),
        ("reference.goodput > four x naive", "bad value"),
        ("reference < 1", "APP[.PHASE].METRIC"),
    ],
)
def test_bad_expressions_name_the_expression(expr: str, message: str) -> None:
    with pytest.raises(GateError) as err:
        parse_check(expr)
    assert repr(expr) in str(err.value) and message in str(err.value)


def test_percentile_spellings() -> None:
    assert parse_check("reference.query.total.p99.9 < 2s").metric == ("query", "total", "p99_9")
    assert parse_check("reference.response.p999 < 2s").threshold == 2_000_000
    assert parse_check("naive.fault.query.total.p50 <= 500us").phase == "fault"


def _write_run(root: Path, name: str, result: RunResult) -> Path:
    d = root / name
    d.mkdir()
    result.save(d / "results.json")
    return d


def test_cli_gate_exit_codes_and_one_line_per_failure(tmp_path, run_result, slower, capsys) -> None:
    base_dir = _write_run(tmp_path, "base", run_result)
    same_dir = _write_run(tmp_path, "same", build_run())
    slow_dir = _write_run(tmp_path, "slow", slower)
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "save", str(base_dir), str(baseline)]) == 0
    assert json.loads(baseline.read_text())["metrics"]["reference.response.query.p99"] > 0

    assert main(["gate", str(same_dir), "--baseline", str(baseline)]) == 0
    assert main(["gate", str(slow_dir), "--baseline", str(baseline), "--max-p99-regression", "10%"]) == 1
    out = capsys.readouterr().out.splitlines()
    fails = [line for line in out if line.startswith("FAIL ")]
    assert fails and all("regressed" in line for line in fails)
    assert out[-1].startswith("ragchaos gate: FAIL")
    # the run folder records the outcome
    assert json.loads((slow_dir / "results.json").read_text())["gate"]["passed"] is False
    assert (slow_dir / "junit.xml").read_text().count("<failure") == len(fails)

    assert main(["gate", str(slow_dir), "--baseline", str(baseline), "--max-p99-regression", "30%"]) == 0
    assert main(["gate", str(slow_dir), "--check", "reference.nope < 1"]) == 2
    assert "gate expression 'reference.nope < 1'" in capsys.readouterr().err
    assert main(["gate", str(tmp_path / "missing")]) == 2


def test_cli_repeat_takes_the_newest_runs(tmp_path, run_result, capsys) -> None:
    baseline = tmp_path / "baseline.json"
    runs = tmp_path / "runs"
    runs.mkdir()
    _write_run(runs, "r1", run_result)
    assert main(["baseline", "save", str(runs / "r1"), str(baseline)]) == 0
    for i, scale in enumerate([3.0, 1.0, 1.0], start=2):
        r = build_run(latency_scale={"reference": scale})
        r.run.started_at += i
        _write_run(runs, f"r{i}", r)
    assert main(["gate", str(runs), "--repeat", "3", "--baseline", str(baseline)]) == 0
    assert "median of 3 runs" in capsys.readouterr().out
    assert main(["gate", str(runs), "--repeat", "9"]) == 2


def test_cli_keeps_checks_another_part_recorded(tmp_path, run_result, capsys) -> None:
    from ragchaos.reports.results import GateCheck, GateResult

    r = run_result.model_copy(deep=True)
    r.gate = GateResult(passed=False, checks=[
        GateCheck(name="steady-state: steady error_rate (reference)", passed=False, reason="2.1% > 1%"),
        GateCheck(name="threshold: stale", passed=False, reason="recomputed, so dropped"),
    ])
    d = _write_run(tmp_path, "r", r)
    assert main(["gate", str(d)]) == 1
    out = capsys.readouterr().out
    assert "FAIL steady-state: steady error_rate (reference): 2.1% > 1%" in out
    assert "stale" not in out
