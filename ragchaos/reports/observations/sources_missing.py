"""hit@k cannot be scored when the target's answers name no sources."""

from __future__ import annotations

from ragchaos.reports.analysis import ALL, figures
from ragchaos.reports.observations.base import Observation, register
from ragchaos.reports.results import RunResult


@register("sources_missing")
class SourcesMissing:
    def __call__(self, result: RunResult) -> list[Observation]:
        out = []
        for app, a in result.apps.items():
            answered = figures(result, app, ALL).answered_queries
            if answered and (a.correctness is None or not a.correctness.scored):
                out.append(Observation(
                    "sources_missing", app=app,
                    text=f"hit@k not scored for {app}: the target returned no sources. Does its answer list the "
                         "documents it used, and does the target's query template say where (sources:)?",
                    evidence=f"{answered} answered queries, 0 scored for retrieval correctness"))
        return out
