"""``ragchaos gate``: same-run A/B decisions, stored baselines, its files and its exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ragchaos.cli import main
from ragchaos.measure.hdr import Histogram
from ragchaos.reports.checks import CheckSpec
from ragchaos.reports.checks.evaluate import evaluate
from ragchaos.reports.gate import EXIT_FAILED, EXIT_HARNESS, EXIT_PASS, EXIT_USAGE, make_stored
from ragchaos.reports.results import RunResult, Summary

REPO = Path(__file__).resolve().parents[2]


def _summary(rng: np.random.Generator, n: int, scale: float) -> Summary:
    h = Histogram()
    h.record_many_us(np.exp(rng.normal(0.0, 0.3, n)) * 200_000 * scale)
    return Summary.of(h)


def ab_result(run_result: RunResult, *, shift: float, n: int = 5000, seed: int = 3,
              stages: tuple[str, ...] = ("query.total", "query.generate")) -> RunResult:
    """The synthetic run with a ``baseline`` app beside ``reference``: every gated stage of the
    reference ``shift`` times the baseline's, ``n`` samples a side, in the run's one phase that counts."""
    rng = np.random.default_rng(seed)
    r = run_result.model_copy(deep=True)
    r.apps["baseline"] = r.apps["reference"].model_copy(deep=True)
    for app, scale in (("reference", shift), ("baseline", 1.0)):
        for name, phase in r.apps[app].phases.items():
            for stage in stages:
                phase.stages[stage] = _summary(rng, n, scale) if name == "steady" else Summary()
    r.forget()
    return r


def _specs(*metrics: str) -> list[CheckSpec]:
    return [CheckSpec(check=f"reference.{m} <= 1x baseline") for m in metrics]


def test_same_build_passes_and_a_twenty_percent_slower_one_fails(run_result: RunResult) -> None:
    specs = _specs("query.total.p99", "query.generate.p99")
    same = evaluate(ab_result(run_result, shift=1.0), specs, apps=["reference"], baseline_app="baseline")
    assert same.passed, [c.reason for c in same.checks]
    slower = evaluate(ab_result(run_result, shift=1.2), specs, apps=["reference"], baseline_app="baseline")
    assert not slower.passed
    c = slower.checks[0]
    assert c.state == "fail" and c.reason.startswith("REGRESSION: +")
    assert c.n == 5000 and c.n_baseline == 5000 and c.low is not None and c.low > 1.0
    assert c.resolution is not None and 0 < c.resolution < 0.2
    assert "(95% CI, n=5,000 vs 5,000)" in c.measured


def test_a_gate_that_cannot_see_twenty_percent_says_so(run_result: RunResult) -> None:
    gate = evaluate(ab_result(run_result, shift=1.0, n=400), _specs("query.total.p99"), apps=["reference"],
                    baseline_app="baseline")
    assert gate.passed and gate.checks[0].state == "warn" and "cannot see a 20% regression" in gate.checks[0].reason
    few = evaluate(ab_result(run_result, shift=1.5, n=100), _specs("query.total.p99"), apps=["reference"],
                   baseline_app="baseline")
    assert few.passed and few.checks[0].state == "insufficient"
    assert "needs at least 368 samples per side, this run has 100 vs 100" in few.checks[0].reason


def test_the_whole_gate_is_corrected_for_many_metrics(run_result: RunResult) -> None:
    """Holm: a shift that fails when query.total is the only gated metric passes when eight
    clean metrics are gated beside it: its p-value is multiplied by the family's size."""
    single_run = ab_result(run_result, shift=1.08, seed=5, stages=("query.total",))
    single = evaluate(single_run, _specs("query.total.p99"), apps=["reference"], baseline_app="baseline")
    p_single = single.checks[0].p_value
    assert p_single is not None and p_single < 0.01 < 9 * p_single and not single.passed
    many_run = single_run.model_copy(deep=True)
    others = ("query.generate", "query.embed", "query.retrieve", "query.cache", "ingest.embed", "ingest.chunk",
              "ingest.upsert", "ingest.total")
    rng = np.random.default_rng(8)
    for stage in others:  # the same histogram on both sides: nothing to find
        same = _summary(rng, 5000, 1.0)
        for app in ("reference", "baseline"):
            many_run.apps[app].phases["steady"].stages[stage] = same
    many_run.forget()
    many = evaluate(many_run, _specs("query.total.p99", *(f"{s}.p99" for s in others)), apps=["reference"],
                    baseline_app="baseline")
    total = next(c for c in many.checks if c.metric == "query.total.p99")
    assert total.p_value == pytest.approx(9 * p_single)
    assert many.passed, [c.reason for c in many.checks if not c.passed]


def test_stored_baseline_uses_run_to_run_spread(run_result: RunResult) -> None:
    runs = [ab_result(run_result, shift=s, seed=i) for i, s in enumerate((1.0, 1.03, 0.97))]
    stored = make_stored(runs, ["reference"], ["query.total.p99"])
    assert len(stored.metrics["reference.query.total.p99"]) == 3
    ok = evaluate(ab_result(run_result, shift=1.0, seed=9), _specs("query.total.p99"), apps=["reference"],
                  stored=stored)
    assert ok.passed and "3 runs" in ok.checks[0].measured
    bad = evaluate(ab_result(run_result, shift=2.0, seed=9), _specs("query.total.p99"), apps=["reference"],
                   stored=stored)
    assert not bad.passed and "REGRESSION" in bad.checks[0].reason


def _save(result: RunResult, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    result.save(path / "results.json")
    return path


def test_exit_codes_and_the_gate_files(tmp_path: Path, run_result: RunResult, capsys) -> None:
    same = _save(ab_result(run_result, shift=1.0), tmp_path / "same")
    (same / "report.html").write_text("the run's own report")
    before = (same / "results.json").read_text()
    summary = tmp_path / "step-summary.md"
    rc = main(["gate", str(same), "--metrics", "query.total.p99", "--github-summary", str(summary)])
    out = capsys.readouterr().out
    assert rc == EXIT_PASS, out
    doc = json.loads((same / "gate.json").read_text())
    assert doc["passed"] is True and doc["checks"]
    assert "<testsuites" in (same / "gate-junit.xml").read_text()
    assert "## ragchaos gate: PASS" in summary.read_text() and (same / "gate.md").is_file()
    # the run's own files tell the run's story, untouched by the gate
    assert (same / "results.json").read_text() == before and (same / "report.html").read_text() == "the run's own report"

    slow = _save(ab_result(run_result, shift=1.3), tmp_path / "slow")
    assert main(["gate", str(slow), "--metrics", "query.total.p99", "--github-summary", str(summary)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "FAIL  reference query.total p99 vs baseline: REGRESSION" in out
    assert "## ragchaos gate: FAIL" in summary.read_text()

    assert main(["gate", str(same), "--alpha", "15"]) == EXIT_USAGE
    assert "did you mean 15%" in capsys.readouterr().err
    assert main(["gate", str(same), "--metrics", "query.totl.p99"]) == EXIT_USAGE
    assert "did you mean total?" in capsys.readouterr().err
    assert main(["gate", str(same), "--apps", "referense"]) == EXIT_USAGE
    assert "did you mean reference?" in capsys.readouterr().err
    assert main(["gate", str(tmp_path / "nowhere")]) == EXIT_USAGE


def test_exit_code_of_a_harness_failure(tmp_path: Path) -> None:
    proc = subprocess.run([str(REPO / ".venv/bin/ragchaos"), "gate", "--baseline-ref", "no-such-ref-anywhere",
                           "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_HARNESS, proc.stdout + proc.stderr
    assert "harness failure: baseline build" in proc.stderr


def test_baseline_save_needs_three_runs(tmp_path: Path, run_result: RunResult, capsys) -> None:
    dirs = [_save(ab_result(run_result, shift=1.0, seed=i), tmp_path / f"run{i}") for i in range(3)]
    assert main(["baseline", "save", str(dirs[0]), str(dirs[1]), str(tmp_path / "b.json")]) == EXIT_USAGE
    assert "at least 3 runs" in capsys.readouterr().err
    assert main(["baseline", "save", *map(str, dirs), str(tmp_path / "b.json"), "--metrics", "query.total.p99"]) == 0
    rc = main(["gate", str(dirs[0]), "--baseline-file", str(tmp_path / "b.json"), "--metrics", "query.total.p99"])
    assert rc == EXIT_PASS


def test_gate_help_documents_the_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    out = capsys.readouterr().out
    for line in ("0  every check passed", "1  a check failed", "2  a usage", "3  a harness failure"):
        assert line in out
