"""The value of one metric path in one run, and, for a latency, the histogram behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragchaos.measure.stages import PROXY_STAGE_FAMILY
from ragchaos.reports import mechanisms
from ragchaos.reports.analysis import Figures, figures
from ragchaos.reports.checks.grammar import STAGE_FAMILIES, percentile_of
from ragchaos.reports.results import RunResult, Summary

__all__ = ["Measured", "format_measure", "measure"]


@dataclass(frozen=True)
class Measured:
    value: float | None  # None: the run has no data for it
    summary: Summary | None = None  # the histogram of a latency metric
    detail: str = ""  # a mechanism's own account of its figure


def _stat(summary: Summary | None, stat: str) -> Measured:
    if summary is None or summary.count == 0:
        return Measured(None, summary)
    if stat == "max":
        return Measured(float(summary.max_us), summary)
    if stat == "mean":
        return Measured(float(summary.mean_us), summary)
    if stat == "count":
        return Measured(float(summary.count), summary)
    p = percentile_of(stat)
    return Measured(float(summary.percentile_us(p)) if p is not None else None, summary)


def latency_summary(f: Figures, metric: Sequence[str]) -> Summary | None:
    head = metric[0]
    if head == PROXY_STAGE_FAMILY:
        return f.stages.get(".".join(metric[:-1]))
    if head in STAGE_FAMILIES:
        return f.stages.get(f"{metric[0]}.{metric[1]}")
    if head in ("response", "service"):
        table = f.response if head == "response" else f.service
        return table.get(metric[1] if len(metric) == 3 else "all")
    if head == "ttft":
        return f.ttft
    return None


def measure(result: RunResult, app: str, phase: str, metric: Sequence[str]) -> Measured:
    """One metric path in one run. KeyError names an app or phase the run does not have."""
    if app not in result.apps:
        raise KeyError(f"no app {app!r} in the run (apps: {', '.join(result.apps)})")
    f: Figures = figures(result, app, phase)
    head = metric[0]
    if head in STAGE_FAMILIES or head in ("response", "service", "ttft", PROXY_STAGE_FAMILY):
        return _stat(latency_summary(f, metric), metric[-1])
    value: float | None
    if head == "error_rate":
        # no requests: no error rate, and no pass for a check on it; arrivals the load generator
        # dropped count as failures (of the run), so a run that could not deliver its load
        # cannot pass an error-rate check on the few requests it did send
        if len(metric) == 2:
            value = None if not f.requests else f.error_rate_of(metric[1])
        else:
            value = None if not f.scheduled else f.failure_rate
    elif head == "cache_hit_ratio":
        value = f.cache_hit_ratio.get(metric[1])
    elif head == "mechanism":
        m = mechanisms.get(metric[1]).measure(mechanisms.Context(result, app, phase, f))
        return Measured(m.value, detail=m.detail)
    elif head == "throughput":
        value = f.throughput_rps
    elif head == "goodput":
        value = f.goodput_rps
    elif head == "requests":
        value = float(f.requests)
    elif head == "ok":
        value = float(f.ok)
    elif head == "hit_at_k":
        corr = result.apps[app].correctness
        value = corr.ratio if corr else None
    elif head == "cost_per_answer":
        value = f.per_answer(f.provider_cost_usd)
    elif head == "tokens_per_answer":
        value = f.per_answer(f.provider_tokens)
    elif head == "provider_calls_per_answer":
        value = f.per_answer(f.provider_calls)
    else:
        raise KeyError(f"unknown metric {'.'.join(metric)}")
    return Measured(value)


def format_measure(value: float | None, kind: str) -> str:
    if value is None:
        return "no data"
    if kind == "latency":
        if value >= 999_500:  # 999.6 ms would print as "1e+03 ms"
            return f"{value / 1_000_000:.3g} s"
        if value >= 1_000:
            return f"{value / 1_000:.3g} ms"
        return f"{value:.0f} us"
    if kind == "ratio":
        return f"{value * 100:.3g}%"
    if kind == "rate":
        return f"{value:.3g}/s"
    if kind == "usd":
        return f"${value:.3g}"
    return f"{value:.4g}"
