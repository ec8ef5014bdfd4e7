"""The report's header lists what was in effect: mechanisms off, provider overrides, app env."""

from __future__ import annotations

from ragchaos.reports.build import write_reports
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections import build_sections
from ragchaos.scenarios.summary import summary_lines


def test_switches_and_overrides_are_in_the_header_of_every_output(run_result: RunResult, tmp_path) -> None:
    run = run_result.model_copy(deep=True)
    run.apps["reference"].mechanisms_off = ["retries", "cache"]
    run.apps["naive"].mechanisms_off = []
    run.run.provider_overrides = {"limits": {"embeddings_rpm": 600}, "latency": {"enabled": False}}
    run.run.app_env = {"reference": {"RAGCHAOS_DEADLINE__BUDGET_S": "3"}}
    run.gate = None
    written = write_reports(tmp_path, run, plots=False)
    header = written["report"].read_text().split("</header>")[0]
    assert "reference mechanisms OFF: retries, cache" in header
    assert "provider overrides: limits.embeddings_rpm=600, latency.enabled=False" in header
    assert "reference env: RAGCHAOS_DEADLINE__BUDGET_S=3" in header
    summary = written["summary"].read_text()
    assert summary.index("## In effect") < summary.index("## Headline")
    assert "| naive | mechanisms switched off | none (every mechanism on) |" in summary
    assert "| provider | limits.embeddings_rpm | 600 |" in summary
    assert "in effect: reference mechanisms OFF: retries, cache" in summary_lines(run)[0]
    # and a run with everything on says so, rather than saying nothing
    plain = run_result.model_copy(deep=True)
    plain.apps["reference"].mechanisms_off = []
    plain.apps["naive"].mechanisms_off = []
    [section] = build_sections(plain, only=["config"])
    assert "The provider ran with its defaults." in section.notes
    assert summary_lines(plain)[0] == "in effect: every mechanism on, no provider overrides"
