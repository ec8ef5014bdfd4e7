"""stages.png reads cleanly (issue 17): no tick label runs into another, and the legend sits
clear of the axis label, even with many stages spanning five decades (a run's proxy stages)."""

from __future__ import annotations

from itertools import combinations

from matplotlib.backends.backend_agg import FigureCanvasAgg

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.plots import plot
from ragchaos.reports.results import RunResult, Summary

WIDE_STAGES = {  # stage -> microseconds: 60 us to 2 s, long names
    "proxy.vectordb.create_collection": 60, "proxy.vectordb.identity": 700, "proxy.vectordb.database": 2_500,
    "proxy.provider.embeddings": 45_000, "proxy.provider.chat": 900_000, "provider.chat": 2_000_000,
}


def _summary(us: int) -> Summary:
    h = Histogram()
    for i in range(50):
        h.record_us(us * (1 + i / 25))
    return Summary.of(h)


def _visible(labels) -> list:
    return [t for t in labels if t.get_visible() and t.get_text().strip()]


def test_stage_labels_tick_labels_and_legend_do_not_overlap(run_result: RunResult) -> None:
    run = run_result.model_copy(deep=True)
    for app in run.apps.values():
        for phase in app.phases.values():
            phase.stages.update({name: _summary(us) for name, us in WIDE_STAGES.items()})
    run.forget()
    fig = plot(run, "stages")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    [ax] = fig.axes
    xticks = _visible(ax.xaxis.get_ticklabels(minor=False) + ax.xaxis.get_ticklabels(minor=True))
    xticks = [t for t in xticks if ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
    boxes = [t.get_window_extent(renderer) for t in xticks]
    clashes = [(a.get_text(), b.get_text()) for (a, ba), (b, bb) in combinations(zip(xticks, boxes, strict=True), 2)
               if ba.overlaps(bb)]
    assert clashes == [], clashes
    yticks = _visible(ax.yaxis.get_ticklabels())
    assert {t.get_text() for t in yticks} >= set(WIDE_STAGES)
    ybox = [t.get_window_extent(renderer) for t in yticks]
    assert not any(a.overlaps(b) for a, b in combinations(ybox, 2))
    assert all(b.x0 >= 0 for b in ybox), "a stage name is cut off at the left edge"
    [legend] = fig.legends
    lbox = legend.get_window_extent(renderer)
    assert not lbox.overlaps(ax.xaxis.label.get_window_extent(renderer))
    assert not any(lbox.overlaps(b) for b in boxes)
    assert lbox.y0 >= 0 and ax.xaxis.label.get_window_extent(renderer).y0 > lbox.y1 - 1
