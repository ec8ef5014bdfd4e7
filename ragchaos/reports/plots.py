"""Plots of a RunResult with matplotlib (object API, no pyplot state, Agg canvas).

Every plot is a function ``(RunResult, arg) -> Figure`` in ``PLOTS``, addressed by name:

- ``spectrum.response.<kind>``: percentile spectrum of client latency on a logit percentile axis,
  every app overlaid; response time (coordinated omission corrected) solid, service time dashed.
- ``spectrum.stage.<stage>``: the same for one server-side stage.
- ``spectrum.ttft``: time to first token of streamed answers, every app overlaid.
- ``timeline.latency``: p50/p99 per second with the fault windows shaded.
- ``timeline.requests``: requests and errors per second.
- ``timeline.breaker``: cumulative breaker transitions over time (from ``counter_samples``).
- ``stages``: stage breakdown (p50 and p99 per query stage and app).
- ``provider``: provider calls, tokens and cost per app.
- ``ablation``: ``run --ablate``'s changes per mechanism switched off, with their intervals.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ragchaos.reports.analysis import ALL, figures, phase_result
from ragchaos.reports.counters import Counters
from ragchaos.reports.results import RunResult, Summary

__all__ = ["APP_COLORS", "PLOTS", "plot", "plot_png", "to_png"]

APP_COLORS = {"naive": "#d62728", "reference": "#1f77b4"}
_CYCLE = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
_SHADE = {"fault": "#f4b6b6", "spike": "#f7d79a"}
_LOGIT_TICKS = [0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999]
_LOGIT_LABELS = ["25%", "50%", "75%", "90%", "99%", "99.9%", "99.99%", "99.999%"]


def _ms_label(value: float, _pos: object = None) -> str:
    """A y tick in milliseconds as people read it: 20 ms, 400 ms, 1.5 s."""
    if value <= 0:
        return ""
    if value >= 1000:
        return f"{value / 1000:g} s"
    if value >= 1:
        return f"{value:g} ms"
    return f"{value * 1000:g} us"


# minor ticks (2, 5 x 10^n) are labelled only on a log axis this short in decades: on a longer
# one their labels run into the decades' own ("2 ms5 ms10 ms", as stages.png once read)
_MINOR_LABEL_DECADES = 2.2


def _ms_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(_ms_label))

    def minor(v: float, _pos: object = None) -> str:
        lo, hi = sorted(axis.get_view_interval())
        if lo <= 0 or math.log10(hi / lo) > _MINOR_LABEL_DECADES:
            return ""
        return _ms_label(v) if str(round(v, 6))[0] in "25" else ""

    axis.set_minor_formatter(FuncFormatter(minor))


def _legend_below(ax, ncol: int = 4) -> None:
    if ax.lines or ax.patches:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=ncol, frameon=False)


def color(app: str, apps: list[str]) -> str:
    if app in APP_COLORS:
        return APP_COLORS[app]
    others = [a for a in apps if a not in APP_COLORS]
    return _CYCLE[others.index(app) % len(_CYCLE)] if app in others else _CYCLE[0]


def _spectrum_xy(summary: Summary | None) -> tuple[list[float], list[float]]:
    if summary is None or not summary.count:
        return [], []
    xs, ys = [], []
    count = summary.count
    top = 1.0 - 1.0 / (count * 2)  # beyond the last sample the logit axis has nothing to say
    for p, v in summary.histogram().spectrum(5):
        q = p / 100.0
        if q <= 0.0:
            continue
        q = min(q, top)
        xs.append(q)
        ys.append(v / 1000.0)
    return xs, ys


def _logit_axis(ax, max_q: float) -> None:
    ax.set_xscale("logit")
    ticks = [(t, lab) for t, lab in zip(_LOGIT_TICKS, _LOGIT_LABELS, strict=True) if t <= max(max_q, 0.99)]
    ax.set_xticks([t for t, _ in ticks])
    ax.set_xticklabels([lab for _, lab in ticks])
    ax.minorticks_off()
    ax.set_xlim(0.2, max(max_q, 0.99) * 1.00001 if max_q < 1 else 0.99999)
    ax.set_xlabel("percentile")
    ax.grid(True, which="major", alpha=0.3)


def _spectrum(result: RunResult, title: str, series: Sequence[tuple[str, Summary | None, Summary | None]]) -> Figure:
    fig = Figure(figsize=(7.2, 4.8), dpi=100)
    ax = fig.add_subplot()
    apps = list(result.apps)
    max_q = 0.0
    for app, solid, dashed in series:
        c = color(app, apps)
        xs, ys = _spectrum_xy(solid)
        if xs:
            label = f"{app} response time (corrected)" if dashed is not None else app
            ax.plot(xs, ys, color=c, linewidth=2, label=label)
            max_q = max(max_q, xs[-1])
        xs, ys = _spectrum_xy(dashed)
        if xs:
            ax.plot(xs, ys, color=c, linewidth=1.5, linestyle="--", label=f"{app} service time (uncorrected)")
            max_q = max(max_q, xs[-1])
    if max_q:
        _logit_axis(ax, max_q)
    ax.set_yscale("log")
    _ms_axis(ax.yaxis)
    ax.set_ylabel("latency")
    ax.set_title(title, fontsize=11)
    if ax.lines:
        _legend_below(ax, 2)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def spectrum_response(result: RunResult, kind: str) -> Figure:
    series = []
    for app in result.apps:
        f = figures(result, app, ALL)
        series.append((app, f.response.get(kind), f.service.get(kind) or Summary()))
    return _spectrum(result, f"{kind}: client latency percentile spectrum (whole run)", series)


def spectrum_ttft(result: RunResult, _: str = "") -> Figure:
    series = [(app, figures(result, app, ALL).ttft, None) for app in result.apps]
    return _spectrum(result, "time to first token (streamed answers, from the actual send)", series)


def spectrum_stage(result: RunResult, stage: str) -> Figure:
    series = [(app, figures(result, app, ALL).stages.get(stage), None) for app in result.apps]
    return _spectrum(result, f"stage {stage}: percentile spectrum (server side)", series)


def _fault_spans(result: RunResult) -> list[tuple[float, float]]:
    """The union of the time ranges any fault was applied (to any app), merged."""
    spans = sorted(
        (f.applied_at_s, f.reverted_at_s if f.reverted_at_s is not None else result.duration_s)
        for f in result.faults
        if f.applied_at_s is not None and not f.error
    )
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _shade_phases(ax, result: RunResult) -> None:
    """Fault and spike phases shaded; the time faults were actually applied as a strip at the
    bottom (a phase is the plan, the strip is what the timeline did)."""
    for p in result.phases:
        if p.kind in _SHADE:
            ax.axvspan(p.start_s, p.end_s, color=_SHADE[p.kind], alpha=0.35, linewidth=0)
            ax.text((p.start_s + p.end_s) / 2, 0.98, p.name, transform=ax.get_xaxis_transform(), ha="center",
                    va="top", fontsize=8, color="#7a1f1f")
    for i, (start, end) in enumerate(_fault_spans(result)):
        ax.axvspan(start, end, ymin=0.0, ymax=0.035, color="#b22222", alpha=0.8, linewidth=0,
                   label="faults applied" if i == 0 else None)


def with_gaps(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """(x, y) per second, with a NaN between two points more than a second apart: a second in
    which nothing completed is a gap in the line, not a straight line across it."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in points:
        if xs and x - xs[-1] > 1.0 + 1e-9:
            xs.append(xs[-1] + 1.0)
            ys.append(float("nan"))
        xs.append(x)
        ys.append(y)
    return xs, ys


def timeline_latency(result: RunResult, kind: str = "query") -> Figure:
    fig = Figure(figsize=(7.2, 4.6), dpi=100)
    ax = fig.add_subplot()
    apps = list(result.apps)
    for app, a in result.apps.items():
        rows = sorted((i for i in a.intervals if i.kind == kind and i.requests), key=lambda i: i.t_s)
        if not rows:
            continue
        c = color(app, apps)
        ax.plot(*with_gaps([(i.t_s + 0.5, i.p99_us / 1000) for i in rows]), color=c, linewidth=1.8,
                label=f"{app} p99")
        ax.plot(*with_gaps([(i.t_s + 0.5, max(i.p50_us, 1) / 1000) for i in rows]), color=c, linewidth=1.2,
                linestyle=":", label=f"{app} p50")
    _shade_phases(ax, result)
    ax.set_yscale("log")
    _ms_axis(ax.yaxis)
    ax.set_xlabel("seconds from start")
    ax.set_ylabel("response time")
    ax.set_title(f"{kind}: p50 / p99 per second (shaded: spike and fault phases)", fontsize=11)
    ax.grid(True, alpha=0.3)
    _legend_below(ax, 4)
    fig.tight_layout()
    return fig


def timeline_requests(result: RunResult, _: str = "") -> Figure:
    fig = Figure(figsize=(7.2, 4.6), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    apps = list(result.apps)
    for app, a in result.apps.items():
        per_s: dict[float, list[int]] = {}
        for i in a.intervals:
            acc = per_s.setdefault(i.t_s, [0, 0])
            acc[0] += i.requests
            acc[1] += i.errors
        if not per_s:
            continue
        # seconds without a completed request are zeros, not gaps to draw a line across
        first, last = int(min(per_s)), int(max(per_s))
        offset = min(per_s) - first
        for sec in range(first, last + 1):
            per_s.setdefault(sec + offset, [0, 0])
        t = sorted(per_s)
        c = color(app, apps)
        ax1.plot([x + 0.5 for x in t], [per_s[x][0] for x in t], color=c, linewidth=1.5, label=app)
        ax2.plot([x + 0.5 for x in t], [per_s[x][1] for x in t], color=c, linewidth=1.5, label=app)
    for ax in (ax1, ax2):
        _shade_phases(ax, result)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="upper left")
    ax1.set_ylabel("requests / s")
    ax2.set_ylabel("errors / s")
    ax2.set_xlabel("seconds from start")
    ax1.set_title("requests and errors per second (all kinds)")
    fig.tight_layout()
    return fig


def timeline_breaker(result: RunResult, _: str = "") -> Figure:
    fig = Figure(figsize=(7.2, 3.8), dpi=100)
    ax = fig.add_subplot()
    apps = list(result.apps)
    styles = {"open": "-", "half_open": "--", "closed": ":"}
    for app, a in result.apps.items():
        if not a.counter_samples:
            continue
        series: dict[str, list[float]] = {}
        t = [s.t_s for s in a.counter_samples]
        for s in a.counter_samples:
            by_to = Counters(s.counters).by("ragchaos_breaker_transitions_total", "to")
            for to in set(by_to) | set(series):
                series.setdefault(to, [0.0] * (len(t)))
        for idx, s in enumerate(a.counter_samples):
            for to, v in Counters(s.counters).by("ragchaos_breaker_transitions_total", "to").items():
                series[to][idx] = v
        for to, ys in sorted(series.items()):
            if not any(ys):
                continue  # a transition that never happened adds a flat line and no information
            ax.step(t, ys, where="post", color=color(app, apps), linestyle=styles.get(to, "-."),
                    linewidth=2 if to == "open" else 1.5, label=f"{app}: to {to}")
    _shade_phases(ax, result)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds from start")
    ax.set_ylabel("transitions (cumulative)")
    ax.set_title("breaker transitions over time (all dependencies)", fontsize=11)
    ax.grid(True, alpha=0.3)
    if ax.lines:
        _legend_below(ax, 3)
    else:
        ax.text(0.5, 0.5, "no breaker transitions", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def stages_bar(result: RunResult, _: str = "") -> Figure:
    from ragchaos.reports.sections.stages import stage_names

    names = [s for s in stage_names(result)]
    apps = list(result.apps)
    # constrained layout keeps the long stage names, the axis label and the legend apart
    # (tight_layout placed the legend by the axes' height: far below a tall chart, or on its label)
    fig = Figure(figsize=(7.2, 1.6 + 0.42 * max(1, len(names)) * len(apps)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(apps))
    for j, app in enumerate(apps):
        st = figures(result, app, ALL).stages
        ys = [i + j * height for i in range(len(names))]
        p50 = [(st[s].p50_us / 1000 if s in st and st[s].count else 0) for s in names]
        p99 = [(st[s].p99_us / 1000 if s in st and st[s].count else 0) for s in names]
        c = color(app, apps)
        ax.barh(ys, p99, height=height * 0.9, color=c, alpha=0.35, label=f"{app} p99")
        ax.barh(ys, p50, height=height * 0.9, color=c, alpha=0.95, label=f"{app} p50")
    ax.set_yticks([i + height * (len(apps) - 1) / 2 for i in range(len(names))])
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    _ms_axis(ax.xaxis)
    ax.set_xlabel("latency (log scale)")
    ax.set_title("stage breakdown, whole run (dark: p50, light: p99)", fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncol=4, frameon=False)
    return fig


def provider_bar(result: RunResult, _: str = "") -> Figure:
    apps = list(result.apps)
    fig = Figure(figsize=(7.2, 3.0), dpi=100)
    axes = fig.subplots(1, 3)
    metrics = [("calls", lambda st: st.requests), ("tokens (k)", lambda st: (st.tokens_in + st.tokens_out) / 1000),
               ("cost (USD)", lambda st: st.cost_usd)]
    for ax, (label, get) in zip(axes, metrics, strict=True):
        values = []
        for app in apps:
            pr = phase_result(result, app, ALL)
            values.append(sum(get(st) for st in pr.provider.values()))
        bars = ax.bar(apps, values, color=[color(a, apps) for a in apps])
        for bar, app in zip(bars, apps, strict=True):
            bar.set_label(app)
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("provider budget use (whole run)", fontsize=11)
    fig.tight_layout()
    return fig


def ablation_forest(result: RunResult, _: str = "") -> Figure:
    """Per metric, each mechanism switched off: its change against the full app with the interval."""
    from ragchaos.reports.ablation import METRICS

    ab = result.ablation
    rows = ab.rows if ab is not None else []
    fig = Figure(figsize=(9.6, 1.4 + 0.34 * max(1, len(rows))), dpi=100)
    axes = fig.subplots(1, len(METRICS), sharey=True)
    names = [r.mechanism for r in rows]
    for ax, metric in zip(axes, METRICS, strict=True):
        label, kind = METRICS[metric]
        scale = 100.0 if kind == "difference" else 1.0
        for i, row in enumerate(rows):
            e = next((x for x in row.effects if x.metric == metric), None)
            if e is None or e.change is None:
                continue
            c = "#d62728" if e.significant else "#7f7f7f"
            if e.low is not None and e.high is not None:
                ax.plot([e.low * scale, e.high * scale], [i, i], color=c, linewidth=2)
            ax.plot([e.change * scale], [i], "o", color=c, markersize=5)
        ax.axvline(0.0 if kind == "difference" else 1.0, color="black", linewidth=0.8)
        if kind == "ratio":
            ax.set_xscale("log")
        ax.set_title(label + (" (pp)" if kind == "difference" else " (x)"), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)))
    axes[0].set_yticklabels(names, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle("each mechanism switched off vs the full app (95% intervals; red: excludes no change)",
                 fontsize=10)
    fig.tight_layout()
    return fig


PLOTS: dict[str, Callable[[RunResult, str], Figure]] = {
    "ablation": ablation_forest,
    "spectrum.response": spectrum_response,
    "spectrum.stage": spectrum_stage,
    "spectrum.ttft": spectrum_ttft,
    "timeline.latency": timeline_latency,
    "timeline.requests": timeline_requests,
    "timeline.breaker": timeline_breaker,
    "stages": stages_bar,
    "provider": provider_bar,
}


def plot(result: RunResult, name: str) -> Figure:
    """``plot(result, "spectrum.stage.query.total")``: the plot function with its argument."""
    for prefix in sorted(PLOTS, key=len, reverse=True):
        if name == prefix:
            return PLOTS[prefix](result, "query") if prefix == "timeline.latency" else PLOTS[prefix](result, "")
        if name.startswith(prefix + "."):
            return PLOTS[prefix](result, name[len(prefix) + 1:])
    raise KeyError(f"unknown plot {name!r}; known: {', '.join(PLOTS)}")


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_png(result: RunResult, name: str) -> bytes:
    return to_png(plot(result, name))
