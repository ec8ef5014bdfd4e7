"""The ablation table: each copy against the full app, with intervals from the gate's statistics."""

from __future__ import annotations

import pytest

from ragchaos.reports.ablation import METRICS, fill_ablation
from ragchaos.reports.build import write_reports
from ragchaos.reports.plots import plot, to_png
from ragchaos.reports.results import Ablation, load_results
from ragchaos.reports.sections import build_sections
from ragchaos.reports.stats import proportion_difference, rate_ratio, wilson
from tests.reports.synthetic import build_run


def test_wilson_and_newcombe_match_published_values() -> None:
    # Newcombe (1998), table II, example (a): 56/70 vs 48/80 -> difference 0.2, 95% [0.0524, 0.3339]
    d = proportion_difference(48, 80, 56, 70)
    assert d.difference == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=5e-4)
    assert d.high == pytest.approx(0.3339, abs=5e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-4)


def test_rate_ratio_interval_is_symmetric_on_the_log_scale() -> None:
    r = rate_ratio(100, 10.0, 200, 10.0)
    assert r.ratio == pytest.approx(2.0)
    assert r.low is not None and r.high is not None
    assert r.low * r.high == pytest.approx(4.0)
    assert 1.5 < r.low < 2.0 < r.high < 2.7
    assert rate_ratio(0, 10.0, 5, 10.0).low is None  # no interval from a zero count


def test_a_copy_that_fails_more_is_significant_and_an_identical_one_changes_nothing(tmp_path) -> None:
    result = build_run()
    # the synthetic naive app stands in for a copy that lost its mechanisms: errors in the fault
    result.ablation = Ablation(full="reference", apps={"everything": "naive", "nothing": "reference"})
    ab = fill_ablation(result)
    assert ab is not None
    rows = {r.mechanism: r for r in ab.rows}
    worse = {e.metric: e for e in rows["everything"].effects}
    assert set(worse) == set(METRICS)
    assert worse["error_rate"].significant and worse["error_rate"].change > 0
    assert worse["error_rate"].low > 0
    assert worse["provider_calls_per_answer"].change > 1 and worse["provider_calls_per_answer"].significant
    assert not rows["everything"].changes_nothing
    same = rows["nothing"]
    assert same.changes_nothing
    assert all(e.change in (0.0, 1.0) for e in same.effects if e.change is not None)
    # results.json holds it, summary.md has the table and names the mechanism that changed nothing,
    # report.html shows the table, and the plot draws
    write_reports(tmp_path, result, plots=False)
    again = load_results(tmp_path)
    assert again.ablation is not None and len(again.ablation.rows) == 2
    summary = (tmp_path / "summary.md").read_text()
    assert "What each mechanism buys" in summary
    assert "| everything |" in summary
    assert "nothing: switching it off changes nothing measurable" in summary
    page = (tmp_path / "report.html").read_text()
    assert 'id="ablation"' in page and "reference_no" not in page and "everything" in page
    assert len(to_png(plot(result, "ablation"))) > 1000


def test_a_plain_run_has_no_ablation_section() -> None:
    assert "ablation" not in [s.key for s in build_sections(build_run())]
