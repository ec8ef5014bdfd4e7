"""Server-side stage breakdown (the apps' own /_stats/hdr), per app."""

from __future__ import annotations

from ragchaos.measure.stages import STAGES
from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures, phase_names
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def _order(name: str) -> tuple[int, str]:
    return (STAGES.index(name) if name in STAGES else len(STAGES), name)


def stage_names(result: RunResult) -> list[str]:
    names = {s for a in result.apps.values() for p in a.phases.values() for s, v in p.stages.items() if v.count}
    return sorted(names, key=_order)


def stages(result: RunResult) -> Section:
    names = stage_names(result)
    rows = []
    for stage in names:
        for app in result.apps:
            f = figures(result, app, ALL)
            s = f.stages.get(stage)
            if s is None or not s.count:
                continue
            per_phase = []
            for phase in phase_names(result, app):
                ps = figures(result, app, phase).stages.get(stage)
                per_phase.append(f"{phase} {fmt.ms(ps.p99_us)}" if ps and ps.count else f"{phase} –")
            rows.append([stage, app, fmt.count(s.count), fmt.ms(s.p50_us), fmt.ms(s.p99_us), fmt.ms(s.max_us),
                         ", ".join(per_phase)])
    spectra = ("query.total", "query.retrieve", "query.generate", "ingest.total", "ingest.freshness")
    plots = ["stages"] + [f"spectrum.stage.{s}" for s in names if s in spectra]
    return Section(
        key="stages",
        title="Stage breakdown",
        intro="Each app's own per-stage histograms (query.total is server-side, so it excludes queueing "
              "in front of the app; ingest.freshness is accepted -> searchable).",
        tables=[Table(["stage", "app", "count", "p50", "p99", "max", "p99 by phase"], rows)] if rows else [],
        plots=plots if rows else [],
        notes=[] if rows else ["No stage histograms in this run (the target does not expose /_stats/hdr)."],
    )
