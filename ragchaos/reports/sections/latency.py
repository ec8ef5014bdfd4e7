"""Client latency per app and phase: count, p50, p90, p99, p99.9, max, plus service time."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures, phase_names
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def latency(result: RunResult) -> Section:
    tables = []
    kinds = sorted({k for a in result.apps.values() for p in a.phases.values() for k in p.client.by_kind},
                   key=lambda k: (k != "query", k)) or ["all"]
    for kind in kinds:
        rows = []
        for app in result.apps:
            for phase in [*phase_names(result, app), ALL]:
                f = figures(result, app, phase)
                r, s = f.response.get(kind), f.service.get(kind)
                if r is None or not r.count:
                    continue
                rows.append([app, phase, fmt.count(r.count), fmt.ms(r.p50_us), fmt.ms(r.p90_us), fmt.ms(r.p99_us),
                             fmt.ms(r.p999_us), fmt.ms(r.max_us), fmt.ms(s.p99_us if s else None),
                             fmt.rate(f.kind_throughput_rps(kind)), fmt.rate(f.kind_goodput_rps(kind))])
        if rows:
            tables.append(Table(["app", "phase", "count", "p50", "p90", "p99", "p99.9", "max", "service p99",
                                 "throughput", "goodput"], rows, caption=f"{kind} requests, response time"))
    plots = [f"spectrum.response.{k}" for k in kinds if k != "all"]
    if any(figures(result, app, ALL).ttft for app in result.apps):
        plots.append("spectrum.ttft")
    return Section(
        key="latency",
        title="Latency by phase",
        intro="Percentiles from HDR histograms (3 significant figures), client side.",
        tables=tables,
        plots=plots,
        notes=["Goodput: ok answers per second; with an SLO in the scenario, only ok answers within it."],
    )
