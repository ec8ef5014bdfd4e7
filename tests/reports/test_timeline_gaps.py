"""The latency timeline shows a second in which nothing completed as a gap, not a line across it."""

from __future__ import annotations

import math

from ragchaos.reports.plots import timeline_latency, with_gaps
from ragchaos.reports.results import AppResult, Interval, RunInfo, RunResult, ScenarioInfo


def test_missing_seconds_become_gaps() -> None:
    xs, ys = with_gaps([(0.5, 10.0), (1.5, 12.0), (12.5, 900.0), (13.5, 11.0)])
    assert xs[:2] == [0.5, 1.5] and math.isnan(ys[2]) and xs[3:] == [12.5, 13.5]
    assert with_gaps([(0.5, 1.0), (1.5, 2.0)]) == ([0.5, 1.5], [1.0, 2.0])


def test_the_plotted_line_breaks_where_nothing_completed() -> None:
    rows = [Interval(t_s=float(t), kind="query", requests=3, ok=3, p50_us=50_000, p99_us=90_000) for t in (0, 1, 2)]
    rows += [Interval(t_s=13.0, kind="query", requests=3, ok=3, p50_us=50_000, p99_us=9_000_000)]
    result = RunResult(scenario=ScenarioInfo(name="t"), run=RunInfo(started_at=0, ended_at=14),
                       apps={"svc": AppResult(intervals=rows)})
    fig = timeline_latency(result)
    p99 = fig.axes[0].lines[0].get_ydata()
    assert any(math.isnan(v) for v in p99)
