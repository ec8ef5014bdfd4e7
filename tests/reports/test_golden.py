"""summary.md of the fixed RunResult against a golden file (UPDATE_GOLDEN=1 rewrites it)."""

from __future__ import annotations

import os
from pathlib import Path

from ragchaos.reports.build import finalize
from ragchaos.reports.render import render_markdown
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections import build_sections

GOLDEN = Path(__file__).parent / "golden"


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and rerun with UPDATE_GOLDEN=1"


def test_summary_md(run_result: RunResult) -> None:
    result = finalize(run_result.model_copy(deep=True))
    sections = build_sections(result, only=["headline", "gate", "mechanisms", "latency", "errors"])
    check("summary.md", render_markdown("ragchaos: monday-morning", sections))


def test_every_section_markdown(run_result: RunResult) -> None:
    result = finalize(run_result.model_copy(deep=True))
    check("all_sections.md", render_markdown("all sections", build_sections(result)))
