"""Report sections: each a pure function ``RunResult -> Section``, rendered by ``reports.render``."""

from __future__ import annotations

from collections.abc import Callable

from reports.results import RunResult
from reports.sections.base import Line, Section, Table
from reports.sections.errors import errors
from reports.sections.gate import gate
from reports.sections.headline import headline
from reports.sections.latency import latency
from reports.sections.provider import provider
from reports.sections.stages import stages
from reports.sections.timeline import timeline
from reports.sections.verdicts import verdicts

__all__ = ["SECTIONS", "Line", "Section", "Table", "build_sections"]

# report order
SECTIONS: dict[str, Callable[[RunResult], Section]] = {
    "headline": headline,
    "gate": gate,
    "mechanisms": verdicts,
    "latency": latency,
    "timeline": timeline,
    "errors": errors,
    "stages": stages,
    "provider": provider,
}


def build_sections(result: RunResult, only: list[str] | None = None) -> list[Section]:
    return [fn(result) for key, fn in SECTIONS.items() if only is None or key in only]
