"""The few lines a run prints at its end: per app the headline, per app and phase what the client
saw, and the gate."""

from __future__ import annotations

from ragchaos.reports.analysis import ALL, degraded_share, figures
from ragchaos.reports.checks.delivery import not_delivered
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.config import config_line

__all__ = ["headline_lines", "summary_lines"]


def headline_lines(result: RunResult) -> list[str]:
    """Per app over the whole run: what was scheduled and what became of it. Arrivals the load
    generator dropped are failures of the run, said apart from the app's errors and counted in
    the failure rate and the goodput share."""
    out = [f"in effect: {config_line(result)}"]
    invalid = not_delivered(result)  # the gate's verdict, not a second judgement
    if result.run.interrupted:
        out.append(f"INTERRUPTED after {result.run.interrupted_at_s or 0:g} s of {result.scenario.duration_s or 0:g} s: "
                   "what follows is the measured part only")
    for app in result.apps:
        f = figures(result, app, ALL)
        shares = f.outcome_shares()
        degraded = "" if f.degraded is None else f", degraded {shares['degraded']:.1%}"
        line = (f"{app}: {f.requests:,} requests, app errors {f.error_rate:.1%}; "
                f"ok {shares['ok']:.1%}{degraded}, error {shares['error']:.1%}")
        if result.scenario.load_model == "open":
            line += (f"; of {f.scheduled:,} scheduled arrivals dropped {f.dropped:,} ({f.dropped_rate:.1%}), "
                     f"sent late {f.late:,}; failed (app errors + dropped) {f.failure_rate:.1%}, "
                     f"goodput {f.goodput_share:.1%} of the schedule")
            if app in invalid:
                line += "  << RUN NOT VALID: the load was not delivered"
        out.append(line)
    return out


def summary_lines(result: RunResult) -> list[str]:
    """The headline, a per app x phase table (requests, dropped and late arrivals, errors,
    degraded answers, p50/p99 from the intended send) and the gate. "degraded" is the share of ok
    answers that were fallbacks (a stale cached answer or a retrieval-only one, HTTP 200 marked
    ``degraded``): they count as answered, so the table says how many there were; "-" for an app
    that does not report fallbacks."""
    lines = headline_lines(result)
    lines.append(f"{'app':<10} {'phase':<11} {'requests':>8} {'dropped':>7} {'late':>5} {'errors':>7} "
                 f"{'degraded':>8} {'p50':>9} {'p99':>9}  errors by class")
    for app, ar in result.apps.items():
        for name, pr in ar.phases.items():
            c = pr.client
            lat = c.latency.response_time
            err = (c.requests - c.ok) / c.requests if c.requests else 0.0
            classes = ", ".join(f"{k} {v}" for k, v in c.errors.items() if v)
            lines.append(f"{app:<10} {name:<11} {c.requests:>8} {c.dropped:>7} {c.late:>5} {err:>7.1%} "
                         f"{_degraded(pr.counters, c.ok):>8} {lat.p50_us / 1000:>7.0f}ms "
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


def _degraded(counters: dict[str, float], ok: int) -> str:
    share = degraded_share(counters, ok)
    return "-" if share is None else f"{share:.1%}"
