"""What each mechanism buys: every ablated copy of the reference app against the full app.

``run --ablate`` runs the reference app once per mechanism switched off, beside the full app,
under the same schedule, faults and provider budget (``ragchaos/scenarios/ablation.py``). Here
each copy is compared with the full app over the whole run (warm-up excluded), on five
metrics, each with a 95% interval from the gate's statistics (``reports.stats``):

- error rate and degraded share: a difference of proportions (Newcombe's score interval);
- goodput (answers within the SLO per second) and provider calls per answer: a rate ratio
  (log-normal interval);
- p99 of response time: a ratio of quantiles (order-statistic intervals, ``compare_quantiles``).

An effect is significant when its interval excludes "no change"; a mechanism none of whose
effects is significant is named as changing nothing in this run.
"""

from __future__ import annotations

from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.results import Ablation, AblationEffect, AblationRow, RunResult
from ragchaos.reports.stats import Sample, compare_quantiles, proportion_difference, rate_ratio

__all__ = ["METRICS", "compare_apps", "degraded_ok", "fill_ablation"]

# metric -> (label, how its change is expressed)
METRICS: dict[str, tuple[str, str]] = {
    "error_rate": ("error rate", "difference"),
    "degraded_share": ("degraded share", "difference"),
    "goodput": ("goodput", "ratio"),
    "p99": ("p99", "ratio"),
    "provider_calls_per_answer": ("provider calls per answer", "ratio"),
}


def degraded_ok(f: Figures) -> int | None:
    """Ok answers that were fallbacks (a stale cached or a retrieval-only answer, served with a
    200 and marked degraded): ``ragchaos_fallback_total`` kinds cache and retrieval_only; None
    when the app does not report fallbacks."""
    c = f.counters
    if c is None or not c.speaks():
        return None
    served = sum(c.count("ragchaos_fallback_total", kind=k) or 0.0 for k in ("cache", "retrieval_only"))
    return min(f.ok, round(served))


def _effect(metric: str, full: Figures, cut: Figures, confidence: float) -> AblationEffect:
    kind = METRICS[metric][1]
    if metric == "error_rate":
        d = proportion_difference(full.requests - full.ok, full.requests, cut.requests - cut.ok, cut.requests,
                                  confidence)
        return _difference(metric, d.base, d.difference, d.low, d.high, d.cand)
    if metric == "degraded_share":
        a, b = degraded_ok(full), degraded_ok(cut)
        if a is None or b is None:
            return AblationEffect(metric=metric, kind=kind)
        d = proportion_difference(a, full.ok, b, cut.ok, confidence)
        return _difference(metric, d.base, d.difference, d.low, d.high, d.cand)
    if metric == "goodput":
        r = rate_ratio(full.goodput_ok, full.duration_s, cut.goodput_ok, cut.duration_s, confidence)
        return _ratio(metric, r.base, r.cand, r.ratio, r.low, r.high)
    if metric == "provider_calls_per_answer":
        if full.provider_calls is None or cut.provider_calls is None:
            return AblationEffect(metric=metric, kind=kind)
        r = rate_ratio(full.provider_calls, full.answered_queries, cut.provider_calls, cut.answered_queries,
                       confidence)
        return _ratio(metric, r.base, r.cand, r.ratio, r.low, r.high)
    # p99 of every request's response time (intended send to answer), in ms
    full_rt, cut_rt = full.response.get("all"), cut.response.get("all")
    if full_rt is None or cut_rt is None or not full_rt.count or not cut_rt.count:
        return AblationEffect(metric=metric, kind=kind)
    q = compare_quantiles(Sample.of(full_rt.histogram()), Sample.of(cut_rt.histogram()), 0.99,
                          confidence=confidence)
    base_ms, cand_ms = (q.base.value or full_rt.p99_us) / 1000.0, (q.cand.value or cut_rt.p99_us) / 1000.0
    if q.ratio is None:  # too few requests for an interval (368 for a p99 at 95%): the ratio alone
        return _ratio(metric, base_ms, cand_ms, cand_ms / base_ms if base_ms else None, None, None)
    return _ratio(metric, base_ms, cand_ms, q.ratio, q.low, q.high)


def _difference(metric: str, full: float | None, change: float | None, low: float | None, high: float | None,
                cut: float | None) -> AblationEffect:
    significant = low is not None and high is not None and (low > 0.0 or high < 0.0)
    return AblationEffect(metric=metric, kind="difference", full=full, ablated=cut, change=change, low=low,
                          high=high, significant=significant)


def _ratio(metric: str, full: float | None, cut: float | None, ratio: float | None, low: float | None,
           high: float | None) -> AblationEffect:
    significant = low is not None and high is not None and (low > 1.0 or high < 1.0)
    return AblationEffect(metric=metric, kind="ratio", full=full, ablated=cut, change=ratio, low=low, high=high,
                          significant=significant)


def compare_apps(result: RunResult, full: str, cut: str, phase: str = ALL,
                 confidence: float = 0.95) -> list[AblationEffect]:
    """Every metric of ``cut`` against ``full`` in ``phase``."""
    a, b = figures(result, full, phase), figures(result, cut, phase)
    return [_effect(m, a, b, confidence) for m in METRICS]


def fill_ablation(result: RunResult) -> Ablation | None:
    """The run's ablation table, computed from its apps (idempotent; None: not an ablation run)."""
    ab = result.ablation
    if ab is None:
        return None
    rows = []
    for mechanism, app in ab.apps.items():
        if app not in result.apps or ab.full not in result.apps:
            rows.append(AblationRow(mechanism=mechanism, app=app))
            continue
        rows.append(AblationRow(mechanism=mechanism, app=app,
                                effects=compare_apps(result, ab.full, app, ab.phase, ab.confidence)))
    ab.rows = rows
    return ab
