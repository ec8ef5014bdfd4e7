"""Sections -> Markdown (summary.md: a CI step summary or a pull-request comment)."""

from __future__ import annotations

from ragchaos.reports.sections.base import Section

__all__ = ["render_markdown"]

_MARK = {"PASS": "✅", "FAIL": "❌", "N/A": "➖", "": "-"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.intro:
            out += [s.intro, ""]
        if s.lines:
            out += [f"- {_MARK[line.status]} {line.text}" if line.status else f"- {line.text}" for line in s.lines]
            out.append("")
        for t in s.tables:
            if t.caption:
                out += [f"*{t.caption}*", ""]
            out.append("| " + " | ".join(_cell(c) for c in t.columns) + " |")
            out.append("|" + "|".join("---" for _ in t.columns) + "|")
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
            out.append("")
        for note in s.notes:
            out += [f"> {note}", ""]
    return "\n".join(out).rstrip() + "\n"
