"""Mechanism verdicts and the figures behind them."""

from __future__ import annotations

from ragchaos.reports import fmt, mechanisms
from ragchaos.reports.analysis import ALL, Figures, figures, phase_names
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Line, Section, Table

# counter deltas per phase: a column title -> (metric, label filter)
_PER_PHASE = {
    "retries": ("ragchaos_retries_total", {}),
    "breaker opened": ("ragchaos_breaker_transitions_total", {"to": "open"}),
    "shed": ("ragchaos_shed_total", {}),
    "quota rejections": ("ragchaos_quota_rejections_total", {}),
    "fallbacks": ("ragchaos_fallback_total", {}),
}


def _reports(f: Figures, metric: str) -> bool:
    return f.counters is not None and f.counters.count(metric) is not None


def _retries(f: Figures) -> str:
    """The app's own retry count by reason; an app that does not report one is not "0": the
    provider's count of the SDK's retries is what is known."""
    if _reports(f, "ragchaos_retries_total"):
        return ", ".join(f"{k} {fmt.num(v)}" for k, v in sorted(f.retries_by_reason.items()) if v) or "0"
    if f.provider_retries is not None:
        return f"not reported by the app; the provider saw {fmt.num(f.provider_retries)} SDK retries"
    return "not reported"


def verdicts(result: RunResult) -> Section:
    lines = []
    rows = []
    for app, vs in mechanisms.evaluate(result).items():
        for v in vs:
            lines.append(Line(f"{app} — {mechanisms.verdict_line(v)}", v.verdict))
            rows.append([app, v.mechanism, mechanisms.format_value(v.measured, v.unit), v.expected, v.verdict, v.detail])
    figs_rows = []
    for app in result.apps:
        f = figures(result, app, ALL)
        fresh = f.freshness
        figs_rows.append([
            app,
            ", ".join(f"{k} {fmt.pct(v)}" for k, v in sorted(f.cache_hit_ratio.items())) or "–",
            _retries(f),
            ", ".join(f"{k} {fmt.num(v)}" for k, v in sorted(f.breaker_transitions.items()) if v)
            or ("0" if _reports(f, "ragchaos_breaker_transitions_total") else "not reported"),
            fmt.num(f.embed_batch_mean),
            f"{fmt.ms(fresh.p50_us)} / {fmt.ms(fresh.p99_us)}" if fresh and fresh.count else "–",
        ])
    phase_rows = []
    for app in result.apps:
        for phase in phase_names(result, app):
            f = figures(result, app, phase)
            c = f.counters
            if c is None or not c.speaks():
                continue
            lookups = c.count("ragchaos_cache_requests_total") or 0.0
            hits = c.count("ragchaos_cache_requests_total", result="hit") or 0.0
            phase_rows.append([app, phase, fmt.pct(hits / lookups) if lookups else "–"]
                              + [fmt.num(c.count(n, **m)) for n, m in _PER_PHASE.values()])
    return Section(
        key="mechanisms",
        title="Mechanism verdicts",
        intro="Each mechanism the scenario expects, measured from the app's metrics and the provider's stats.",
        lines=lines,
        tables=([Table(["app", "mechanism", "measured", "expected", "verdict", "detail"], rows)] if rows else [])
        + [Table(["app", "cache hit ratio", "retries by reason", "breaker transitions", "chunks / embed call",
                  "ingest freshness p50 / p99"], figs_rows, caption="mechanism figures, whole run")]
        + ([Table(["app", "phase", "cache hit ratio", *_PER_PHASE], phase_rows, caption="mechanism counters by phase")]
           if phase_rows else []),
        plots=["timeline.breaker"] if any(a.counter_samples for a in result.apps.values()) else [],
        notes=[] if rows else ["The scenario states no mechanism expectations."],
    )
