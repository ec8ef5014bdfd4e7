"""Steady-state hypotheses of a scenario (``checks:``), judged on a finished run.

Each check becomes one ``GateCheck`` per app it names (``app: "*"`` is every app), named
``steady-state: <phase> <metric> (<app>)``, so the gate, JUnit and the reports show them with
the other checks. Figures come from ``reports.analysis.figures``: latency is the client response
time over every kind of request, error rate counts every non-ok outcome.
"""

from __future__ import annotations

from ragchaos.reports.analysis import Figures, figures
from ragchaos.reports.results import GateCheck, RunResult
from ragchaos.scenarios.schema import SteadyStateCheck

__all__ = ["evaluate_checks", "metric_value"]


def metric_value(f: Figures, metric: str) -> float:
    """The metric in its check unit: seconds for latencies, a fraction, or per second."""
    if metric == "error_rate":
        return f.error_rate
    if metric == "rps":
        return f.throughput_rps
    if metric == "goodput":
        return f.goodput_rps
    summary = f.response.get("all")
    if summary is None or not summary.count:
        return 0.0
    return summary.percentile_us(float(metric[1:])) / 1_000_000.0


def _fmt(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value:.2%}"
    if metric.startswith("p"):
        return f"{value * 1000:.0f}ms"
    return f"{value:.2f}/s"


def _one(result: RunResult, check: SteadyStateCheck, app: str) -> GateCheck:
    name = f"steady-state: {check.phase} {check.metric} ({app})"
    if result.phase(check.phase) is None:
        return GateCheck(name=name, expr=check.describe(), passed=False,
                         reason=f"phase {check.phase!r} did not happen in this run")
    value = metric_value(figures(result, app, check.phase), check.metric)
    measured = _fmt(check.metric, value)
    reasons = []
    hi, lo = check.bound(check.max), check.bound(check.min)
    if hi is not None and value > hi:
        reasons.append(f"{measured} > {_fmt(check.metric, hi)}")
    if lo is not None and value < lo:
        reasons.append(f"{measured} < {_fmt(check.metric, lo)}")
    if check.relative_to is not None:
        if result.phase(check.relative_to) is None:
            reasons.append(f"phase {check.relative_to!r} did not happen")
        else:
            ref = metric_value(figures(result, app, check.relative_to), check.metric)
            measured += f" vs {check.relative_to} {_fmt(check.metric, ref)}"
            reasons += _relative_problems(check, value, ref)
    return GateCheck(name=name, expr=check.describe(), measured=measured, passed=not reasons,
                     reason="; ".join(reasons))


def _relative_problems(check: SteadyStateCheck, value: float, ref: float) -> list[str]:
    out = []
    if check.at_least is not None and value < ref * check.at_least:
        out.append(f"below {check.at_least:g}x: {_fmt(check.metric, ref * check.at_least)}")
    if check.tolerance is not None:
        tol = float(check.tolerance)
        if check.metric in ("rps", "goodput"):
            if value < ref * (1.0 - tol):
                out.append(f"below {_fmt(check.metric, ref * (1.0 - tol))}")
        else:
            # error rates are compared in absolute points, the rest relative to the reference
            limit = ref + tol if check.metric == "error_rate" else ref * (1.0 + tol)
            if value > limit:
                out.append(f"above {_fmt(check.metric, limit)}")
    return out


def evaluate_checks(result: RunResult, checks: list[SteadyStateCheck]) -> list[GateCheck]:
    out = []
    for check in checks:
        for app in (list(result.apps) if check.app == "*" else [check.app]):
            if app in result.apps:
                out.append(_one(result, check, app))
    return out
