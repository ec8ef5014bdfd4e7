"""Latency over time with the fault windows."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def timeline(result: RunResult) -> Section:
    rows = [[p.name, p.kind, f"{p.start_s:.1f} s", f"{p.end_s:.1f} s"] for p in result.phases]
    faults = [
        [f.name, f.target or "", f.dependency or "", f.what,
         "–" if f.applied_at_s is None else f"{f.applied_at_s:.1f} s",
         "–" if f.reverted_at_s is None else f"{f.reverted_at_s:.1f} s", f.error or ""]
        for f in result.faults
    ]
    tables = [Table(["phase", "kind", "start", "end"], rows, caption="phases")]
    if faults:
        tables.append(Table(["fault", "target", "dependency", "what", "applied", "reverted", "error"], faults,
                            caption="faults"))
    peak = []
    for app, a in result.apps.items():
        worst = max(a.intervals, key=lambda i: i.p99_us, default=None)
        if worst is not None:
            peak.append(f"{app}: worst 1 s p99 {fmt.ms(worst.p99_us)} at {worst.t_s:.0f} s ({worst.kind})")
    return Section(key="timeline", title="Timeline", tables=tables, plots=["timeline.latency"], notes=peak)
