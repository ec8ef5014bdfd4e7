"""The few lines a run prints at its end: per app and phase, what the client saw, and the gate."""

from __future__ import annotations

from ragchaos.reports.counters import Counters
from ragchaos.reports.results import RunResult

__all__ = ["degraded_share", "summary_lines"]


def summary_lines(result: RunResult) -> list[str]:
    """A per app x phase table (requests, errors, degraded answers, p50/p99 from the intended send)
    and the gate. "degraded" is the share of ok answers that were fallbacks (a stale cached answer
    or a retrieval-only one, HTTP 200 marked ``degraded``): they count as answered, so the table
    says how many there were; "-" for an app that does not report fallbacks."""
    lines = [f"{'app':<10} {'phase':<11} {'requests':>8} {'errors':>7} {'degraded':>8} {'p50':>9} {'p99':>9}"
             "  errors by class"]
    for app, ar in result.apps.items():
        for name, pr in ar.phases.items():
            c = pr.client
            lat = c.latency.response_time
            err = (c.requests - c.ok) / c.requests if c.requests else 0.0
            classes = ", ".join(f"{k} {v}" for k, v in c.errors.items() if v)
            lines.append(f"{app:<10} {name:<11} {c.requests:>8} {err:>7.1%} {_degraded(pr.counters, c.ok):>8} "
                         f"{lat.p50_us / 1000:>7.0f}ms "
                         f"{lat.p99_us / 1000:>7.0f}ms  {classes}")
    if result.gate is not None:
        g = result.gate
        others = ", ".join(f"{n} {word}" for word, n in (("failed", g.count("fail")), ("warnings", g.count("warn")),
                                                         ("insufficient data", g.count("insufficient"))) if n)
        lines.append(f"checks: {'PASSED' if g.passed else 'FAILED'} "
                     f"({g.count('pass')}/{len(g.checks)} passed{'; ' + others if others else ''})")
        word = {"fail": "FAIL", "warn": "WARN", "insufficient": "INSUFFICIENT DATA"}
        lines += [f"  {word[c.state]} {c.name}: {c.reason or c.measured}" for c in g.checks if c.state != "pass"]
    return lines


def degraded_share(counters: dict[str, float], ok: int) -> float | None:
    """Fallback answers served with a 200 (``ragchaos_fallback_total`` kinds cache and
    retrieval_only) over ok answers; None if the app does not report fallbacks."""
    c = Counters(counters)
    if not c.speaks():
        return None
    served = sum(c.count("ragchaos_fallback_total", kind=k) or 0.0 for k in ("cache", "retrieval_only"))
    return served / ok if ok else 0.0


def _degraded(counters: dict[str, float], ok: int) -> str:
    share = degraded_share(counters, ok)
    return "-" if share is None else f"{share:.1%}"
