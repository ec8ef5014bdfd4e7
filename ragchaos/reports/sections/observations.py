"""Observations: what the numbers suggest, in plain words, each with its evidence (``reports.observations``)."""

from __future__ import annotations

from ragchaos.reports.observations import observe
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def observations(result: RunResult) -> Section:
    found = observe(result)
    rows = [[o.app or "–", o.text, o.evidence] for o in found]
    return Section(key="observations", title="Observations",
                   intro="What the numbers suggest, each tied to the figures it rests on. Suggestions, not verdicts.",
                   tables=[Table(["app", "observation", "evidence"], rows)] if rows else [],
                   notes=[] if rows else ["Nothing stood out to the observation rules."])
