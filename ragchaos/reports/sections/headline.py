"""Headline: the apps side by side over the whole run (warm-up excluded)."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.checks.delivery import MAX_DROPPED_SHARE, not_delivered
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def headline(result: RunResult) -> Section:
    apps = list(result.apps)
    figs = {a: figures(result, a, ALL) for a in apps}
    kind = "query" if any("query" in f.response for f in figs.values()) else "all"
    slo = result.scenario.slo_ms.get("query")

    def row(label: str, get) -> list[str]:
        return [label] + [get(figs[a]) for a in apps]

    is_open = result.scenario.load_model == "open"
    rows = []
    if is_open:  # what the run meant to send, and what it could not: failures of the run
        rows += [
            row("arrivals scheduled", lambda f: fmt.count(f.scheduled)),
            row("dropped by the load generator (run failure)",
                lambda f: f"{fmt.count(f.dropped)} ({fmt.pct(f.dropped_rate)})"),
            row("sent late, > 50 ms behind schedule", lambda f: f"{fmt.count(f.late)} ({fmt.pct(f.late_rate)})"),
        ]
    rows += [
        row("requests" + (" sent" if is_open else ""), lambda f: fmt.count(f.requests)),
        row("error rate (the app's)", lambda f: fmt.pct(f.error_rate)),
    ]
    if is_open:
        rows.append(row("failed: app errors + dropped, of scheduled", lambda f: fmt.pct(f.failure_rate)))
    rows += [
        row("ok / degraded / error" + (" / dropped" if is_open else ""), lambda f: _outcomes(f, is_open)),
        row(f"{kind} p50 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p50_us)),
        row(f"{kind} p99 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p99_us)),
        row(f"{kind} p99.9 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p999_us)),
        row(f"{kind} p99 (service time)", lambda f: fmt.ms(f.service.get(kind) and f.service[kind].p99_us)),
        row("throughput", lambda f: fmt.rate(f.throughput_rps)),
        row("goodput" + (f" (ok within {slo:g} ms)" if slo else " (ok answers)"),
            lambda f: fmt.rate(f.goodput_rps) + (f" ({fmt.pct(f.goodput_share)} of scheduled)" if is_open else "")),
        # the provider's own count for the app's key: retries included, so a retry storm shows
        row("provider attempts / answer", lambda f: fmt.num(f.per_answer(f.provider_calls))),
        row("cost / answer", lambda f: fmt.usd(f.per_answer(f.provider_cost_usd))),
    ]
    corr = [result.apps[a].correctness for a in apps]
    if any(c is not None and c.scored for c in corr):
        rows.append(["source in top k"] + [fmt.pct(c.ratio) if c else "–" for c in corr])
    notes = []
    if result.run.interrupted:
        notes.append(f"**INTERRUPTED** after {result.run.interrupted_at_s or 0:g} s of "
                     f"{result.scenario.duration_s or 0:g} s (Ctrl-C or SIGTERM): every figure here is of the "
                     "measured part only.")
    invalid = not_delivered(result)
    if invalid:
        notes.append(f"**RUN NOT VALID for {', '.join(invalid)}**: the load generator dropped more than "
                     f"{MAX_DROPPED_SHARE:.0%} of the scheduled arrivals (max_in_flight outstanding), so this run "
                     "did not deliver its load and its figures say nothing about the system at that load. "
                     "Dropped arrivals are failures of the run, counted apart from the app's errors.")
    if any(f.degraded for f in figs.values()):
        notes.append("degraded: ok answers (HTTP 200) that were fallbacks, a stale cached answer or a "
                     "retrieval-only one; they are not errors, and not full answers either.")
    if result.scenario.load_model == "open":
        notes.append("Response time is measured from the intended send (coordinated omission corrected); "
                     "service time from the actual send.")
    else:
        notes.append("Closed-model run: response time equals service time (no schedule to fall behind).")
    return Section(
        key="headline",
        title="Headline",
        intro=f"Scenario **{result.scenario.name}**: {result.scenario.description}".rstrip(": "),
        tables=[Table(["", *apps], rows)],
        notes=notes,
    )


def _outcomes(f: Figures, with_dropped: bool) -> str:
    """Shares of every scheduled arrival: clean ok / degraded / error (/ dropped)."""
    shares = f.outcome_shares()
    parts = [fmt.pct(shares["ok"]), "–" if f.degraded is None else fmt.pct(shares["degraded"]), fmt.pct(shares["error"])]
    if with_dropped:
        parts.append(fmt.pct(shares["dropped"]))
    return " / ".join(parts)
