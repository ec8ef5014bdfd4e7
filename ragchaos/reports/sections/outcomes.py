"""Outcomes per app and phase: ok, degraded, error, and (open model) dropped and late arrivals.

"0% errors" must not read as "all fine" when a third of the answers were fallbacks, and a run
that dropped most of its schedule must not read as a small clean one: every scheduled arrival
is in one of ok / degraded / error / dropped. Where an app shed dependency calls and served
fallbacks, the note spells out that chain (shed → fallback → degraded 200 or 503).
"""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, Figures, figures, phase_names
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table

__all__ = ["outcomes", "shed_chain"]


def shed_chain(f: Figures) -> str | None:
    """One sentence on how the app's shed calls became degraded answers, or None if it did not."""
    c = f.counters
    if c is None or not c.speaks():
        return None
    shed = c.count("ragchaos_shed_total") or 0.0
    stale = c.count("ragchaos_fallback_total", kind="cache") or 0.0
    retrieval = c.count("ragchaos_fallback_total", kind="retrieval_only") or 0.0
    unavailable = c.count("ragchaos_fallback_total", kind="unavailable") or 0.0
    if not shed or not (stale or retrieval or unavailable):
        return None
    reasons = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(c.by("ragchaos_shed_total", "reason").items()) if v)
    return (f"{f.app} ({f.phase}): {shed:,.0f} calls shed ({reasons}); instead of failing, the app served "
            f"fallbacks: {stale:,.0f} stale cached answers and {retrieval:,.0f} retrieval-only answers (HTTP 200, "
            f"marked degraded: counted as degraded, not as errors), and {unavailable:,.0f} 503s with Retry-After "
            "(counted as errors, class shed).")


def outcomes(result: RunResult) -> Section:
    is_open = result.scenario.load_model == "open"
    rows = []
    notes = []
    for app in result.apps:
        for phase in [*phase_names(result, app), ALL]:
            f = figures(result, app, phase)
            shares = f.outcome_shares()
            row = [app, phase, fmt.count(f.scheduled), f"{fmt.count(f.clean_ok)} ({fmt.pct(shares['ok'])})",
                   "–" if f.degraded is None else f"{fmt.count(min(f.ok, f.degraded))} ({fmt.pct(shares['degraded'])})",
                   f"{fmt.count(f.requests - f.ok)} ({fmt.pct(shares['error'])})"]
            if is_open:
                row += [f"{fmt.count(f.dropped)} ({fmt.pct(shares['dropped'])})", fmt.count(f.late)]
            rows.append(row)
            if phase != ALL and (chain := shed_chain(f)):
                notes.append(chain)
    columns = ["app", "phase", "scheduled" if is_open else "requests", "ok", "degraded", "error"]
    if is_open:
        columns += ["dropped (run)", "late"]
    notes.append("Shares are of every scheduled arrival. degraded: an ok answer (HTTP 200) that was a fallback "
                 "(ragchaos_fallback_total kinds cache and retrieval_only); – for an app that does not report it."
                 + (" dropped: never sent, the load generator had max_in_flight requests outstanding (a failure "
                    "of the run, not of the app); late: sent more than 50 ms behind schedule." if is_open else ""))
    return Section(key="outcomes", title="Outcomes: ok, degraded, error" + (", dropped" if is_open else ""),
                   tables=[Table(columns, rows)], notes=notes)
