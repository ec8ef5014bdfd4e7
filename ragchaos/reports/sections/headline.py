"""Headline: the apps side by side over the whole run (warm-up excluded)."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def headline(result: RunResult) -> Section:
    apps = list(result.apps)
    figs = {a: figures(result, a, ALL) for a in apps}
    kind = "query" if any("query" in f.response for f in figs.values()) else "all"
    slo = result.scenario.slo_ms.get("query")

    def row(label: str, get) -> list[str]:
        return [label] + [get(figs[a]) for a in apps]

    rows = [
        row("requests", lambda f: fmt.count(f.requests)),
        row("error rate", lambda f: fmt.pct(f.error_rate)),
        row(f"{kind} p50 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p50_us)),
        row(f"{kind} p99 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p99_us)),
        row(f"{kind} p99.9 (response time)", lambda f: fmt.ms(f.response.get(kind) and f.response[kind].p999_us)),
        row(f"{kind} p99 (service time)", lambda f: fmt.ms(f.service.get(kind) and f.service[kind].p99_us)),
        row("throughput", lambda f: fmt.rate(f.throughput_rps)),
        row("goodput" + (f" (ok within {slo:g} ms)" if slo else " (ok answers)"), lambda f: fmt.rate(f.goodput_rps)),
        # the provider's own count for the app's key: retries included, so a retry storm shows
        row("provider attempts / answer", lambda f: fmt.num(f.per_answer(f.provider_calls))),
        row("cost / answer", lambda f: fmt.usd(f.per_answer(f.provider_cost_usd))),
    ]
    corr = [result.apps[a].correctness for a in apps]
    if any(c is not None and c.scored for c in corr):
        rows.append(["source in top k"] + [fmt.pct(c.ratio) if c else "–" for c in corr])
    notes = []
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
