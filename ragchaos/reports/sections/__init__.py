"""Report sections: each a pure function ``RunResult -> Section``, rendered by ``reports.render``."""

from __future__ import annotations

from collections.abc import Callable

from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.ablation import ablation
from ragchaos.reports.sections.base import Line, Section, Table
from ragchaos.reports.sections.config import config
from ragchaos.reports.sections.dependencies import dependencies
from ragchaos.reports.sections.errors import errors
from ragchaos.reports.sections.gate import gate
from ragchaos.reports.sections.headline import headline
from ragchaos.reports.sections.latency import latency
from ragchaos.reports.sections.observations import observations
from ragchaos.reports.sections.outcomes import outcomes
from ragchaos.reports.sections.provider import provider
from ragchaos.reports.sections.stages import stages
from ragchaos.reports.sections.timeline import timeline
from ragchaos.reports.sections.verdicts import verdicts

__all__ = ["SECTIONS", "Line", "Section", "Table", "build_sections"]

# report order
SECTIONS: dict[str, Callable[[RunResult], Section]] = {
    "config": config,
    "headline": headline,
    "gate": gate,
    "outcomes": outcomes,
    "mechanisms": verdicts,
    "ablation": ablation,
    "observations": observations,
    "latency": latency,
    "timeline": timeline,
    "errors": errors,
    "stages": stages,
    "dependencies": dependencies,
    "provider": provider,
}


# sections that a run has only sometimes: shown when this says so
_PRESENT: dict[str, Callable[[RunResult], bool]] = {"ablation": lambda r: r.ablation is not None}


def build_sections(result: RunResult, only: list[str] | None = None) -> list[Section]:
    return [fn(result) for key, fn in SECTIONS.items()
            if (only is None or key in only) and _PRESENT.get(key, lambda r: True)(result)]
