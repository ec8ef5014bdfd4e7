"""The one check model: grammar, evaluator, statuses, mechanisms a check relies on."""

from __future__ import annotations

import pytest

from ragchaos.reports.checks import CheckSpec
from ragchaos.reports.checks.evaluate import evaluate
from ragchaos.reports.checks.grammar import CheckError, parse_check, parse_fraction
from ragchaos.reports.checks.spec import MECHANISM_SWITCHES, legacy_checks
from ragchaos.reports.results import RunResult


def _by_expr(gate, expr):
    return next(c for c in gate.checks if c.expr == expr)


@pytest.mark.parametrize("expr, message", [
    ("reference.error_rate < 15", "15: did you mean 15%?"),
    ("reference.query.total.p99 < 800", "did you mean 800ms?"),
    ("reference.erorr_rate < 1%", "did you mean error_rate?"),
    ("reference.query.totl.p99 < 1s", "did you mean total?"),
    ("reference.error_rate.5xxx < 1%", "did you mean 5xx?"),
    ("reference.mechanism.batchin >= 2", "did you mean batching?"),
    ("reference.error_rate <= 1x baseline", "compares latency percentiles"),
    ("reference.query.total.p99 >= 1x baseline", "write <="),
    ("reference.query.total.p99 < fast", "bad value"),
])
def test_bad_checks_say_what_to_write(expr: str, message: str) -> None:
    with pytest.raises(CheckError, match=message.replace("?", r"\?").replace("%", "%")):
        parse_check(expr)


def test_percentages_and_spellings() -> None:
    assert parse_fraction("15%") == 0.15 and parse_fraction("0.15") == 0.15
    with pytest.raises(CheckError, match="15: did you mean 15%"):
        parse_fraction("15", what="--alpha")
    assert parse_check("reference.query.total.p99.9 < 2s").percentile == pytest.approx(0.999)
    assert parse_check("reference.error_rate < 0.05").threshold == 0.05
    assert parse_check("*.spike.response.p99 <= 3x steady").other_app == "steady"


def test_legacy_keys_convert_with_what_to_write_instead() -> None:
    checks, notes = legacy_checks({
        "checks": [{"phase": "spike", "metric": "p99", "app": "reference", "relative_to": "steady",
                    "tolerance": "200%"}],
        "expect": {"reference": [{"mechanism": "batching", "min": 1.3, "phase": "spike"}]},
        "gate": ["reference.error_rate < 1%"],
    })
    assert checks == ["reference.spike.response.p99 <= 3x steady", "reference.spike.mechanism.batching >= 1.3",
                      "reference.error_rate < 1%"]
    assert "write '- reference.spike.response.p99 <= 3x steady'" in notes[0]
    assert "'expect:' is deprecated" in notes[1] and "'gate:' is deprecated" in notes[2]


def test_every_verdict_has_a_status_and_percentiles_their_interval(run_result: RunResult) -> None:
    gate = evaluate(run_result, [CheckSpec(check=c) for c in (
        "reference.query.total.p99 < 2s", "reference.error_rate < 5%", "reference.goodput > 1.05x naive",
        "reference.query.total.p99 < 10ms")])
    p99 = _by_expr(gate, "reference.query.total.p99 < 2s")
    assert p99.state == "pass" and p99.n and p99.n >= 368 and p99.low is not None and p99.low <= p99.value <= p99.high
    assert "95% CI" in p99.measured
    assert _by_expr(gate, "reference.query.total.p99 < 10ms").state == "fail"
    assert not gate.passed


def test_a_percentile_with_too_few_samples_is_insufficient_never_pass_or_fail(run_result: RunResult) -> None:
    # one phase of the synthetic run holds 200 stage samples: enough for a p90, not for a p99
    gate = evaluate(run_result, [CheckSpec(check="reference.steady.query.total.p99 < 1us"),
                                 CheckSpec(check="reference.steady.query.total.p90 < 1us")])
    p99, p90 = [c for c in gate.checks if c.metric != "load_delivery"]  # the run's own validity check aside
    assert p99.state == "insufficient" and p99.passed
    assert p99.reason == "insufficient data: p99 needs at least 368 samples, this run has 200"
    assert p90.state == "fail"  # the same data is enough to fail a p90


def test_warn_severity_reports_without_failing(run_result: RunResult) -> None:
    gate = evaluate(run_result, [CheckSpec(check="reference.error_rate < 0.01%", severity="warn")])
    assert gate.passed and gate.checks[0].state == "warn" and "not <" in gate.checks[0].reason


def test_a_check_fails_when_a_mechanism_it_requires_is_off(run_result: RunResult) -> None:
    spec = CheckSpec(check="reference.error_rate < 50%", requires=["retries", "cache"])
    r = run_result.model_copy(deep=True)
    r.apps["reference"].mechanisms_off = []
    assert evaluate(r, [spec]).passed
    r.apps["reference"].mechanisms_off = ["cache", "retries"]
    gate = evaluate(r, [spec])
    assert not gate.passed and "relies on retries, cache, switched off" in gate.checks[0].reason
    # the same figure without 'requires' passes: the switch is what fails it
    assert evaluate(r, [CheckSpec(check="reference.error_rate < 50%")]).passed
    r.apps["reference"].mechanisms_off = None  # an app that does not say: a warning, not a pass
    assert evaluate(r, [spec]).checks[0].state == "warn"


def test_apps_choose_who_is_gated(run_result: RunResult) -> None:
    specs = [CheckSpec(check="naive.error_rate < 0.1%"), CheckSpec(check="*.error_rate < 50%")]
    assert not evaluate(run_result, specs).passed  # the naive app judged: its check fails
    only_ref = evaluate(run_result, specs, apps=["reference"])
    assert only_ref.passed and {c.app for c in only_ref.checks} == {"reference"}


def test_a_check_about_an_app_not_in_the_run_fails(run_result: RunResult) -> None:
    gate = evaluate(run_result, [CheckSpec(check="ghost.error_rate < 1%")])
    assert not gate.passed and "not in this run" in gate.checks[0].reason


def test_mechanism_switch_names_match_the_reference_app() -> None:
    from ragchaos.reference_app.switches import MECHANISMS

    assert tuple(MECHANISMS) == MECHANISM_SWITCHES
