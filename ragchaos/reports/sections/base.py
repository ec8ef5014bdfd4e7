"""The section model: what a report section says, independent of how it is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Line", "Section", "Table"]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Line:
    """A verdict-like line; ``status`` colours it (PASS/FAIL/N/A) in HTML and marks it in Markdown."""

    text: str
    status: Literal["PASS", "FAIL", "N/A", ""] = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    lines: list[Line] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # plot names (reports.plots.PLOTS), HTML only
    notes: list[str] = field(default_factory=list)
