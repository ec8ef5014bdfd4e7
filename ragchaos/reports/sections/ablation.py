"""What each mechanism buys (``run --ablate``): each ablated copy against the full reference app."""

from __future__ import annotations

from ragchaos.reports.ablation import METRICS
from ragchaos.reports.results import Ablation, AblationEffect, RunResult
from ragchaos.reports.sections.base import Line, Section, Table

__all__ = ["ablation", "effect_text"]


def _value(metric: str, v: float | None) -> str:
    if v is None:
        return "–"
    if metric in ("error_rate", "degraded_share"):
        return f"{v:.1%}"
    if metric == "goodput":
        return f"{v:.2f}/s"
    if metric == "p99":
        return f"{v:,.0f} ms"
    return f"{v:.2f}"


def effect_text(e: AblationEffect) -> str:
    """``+12.3 pp [+9.1, +15.6]`` or ``x2.40 [1.90, 3.10]``; a star marks a significant change."""
    if e.change is None:
        return "no data"
    star = " *" if e.significant else ""
    if e.kind == "difference":
        pp = f"{e.change * 100:+.1f} pp"
        ci = f" [{e.low * 100:+.1f}, {e.high * 100:+.1f}]" if e.low is not None and e.high is not None else ""
        return pp + ci + star
    ci = f" [{e.low:.2f}, {e.high:.2f}]" if e.low is not None and e.high is not None else " (too few for an interval)"
    return f"x{e.change:.2f}{ci}{star}"


def ablation(result: RunResult) -> Section:
    ab = result.ablation
    section = Section("ablation", "What each mechanism buys (ablation)")
    if ab is None:
        return section
    conf = f"{ab.confidence:.0%}"
    section.intro = (
        f"The reference app ({ab.full}) beside one copy per mechanism switched off "
        f"(RAGCHAOS_DISABLE), same schedule, faults and provider budget; whole run minus warm-up. "
        f"Each cell: the change with the mechanism off, against the full app, and its {conf} interval "
        f"(pp: percentage points; x: ratio off/full). * : the interval excludes no change. The intervals "
        f"treat requests as independent within this run; they do not cover run-to-run variation (the "
        f"machine's load, which copy happened to shed more): repeat the run before trusting a small effect."
        + (f" Wall time of the run: {ab.wall_time_s:.0f} s." if ab.wall_time_s else ""))
    columns = ["mechanism off", *(METRICS[m][0] for m in METRICS)]
    rows = [["(full app)", *(_value(m, _full(ab, m)) for m in METRICS)]]
    for row in ab.rows:
        by = {e.metric: e for e in row.effects}
        rows.append([row.mechanism, *(effect_text(by[m]) if m in by else "no data" for m in METRICS)])
        if not row.effects:
            section.lines.append(Line(f"{row.mechanism}: no data ({row.app} has no results)", "N/A"))
        elif row.changes_nothing:
            section.lines.append(Line(f"{row.mechanism}: switching it off changes nothing measurable in this run "
                                      f"(every interval includes no change)", "N/A"))
        else:
            moved = ", ".join(f"{METRICS[e.metric][0]} {effect_text(e).removesuffix(' *')}"
                              for e in row.effects if e.significant)
            section.lines.append(Line(f"{row.mechanism} off: {moved}"))
    section.tables.append(Table(columns, rows, caption=f"mechanism off vs the full app ({conf} intervals)"))
    section.plots.append("ablation")
    return section


def _full(ab: Ablation, metric: str) -> float | None:
    """The full app's value of ``metric`` (the same in every row)."""
    for row in ab.rows:
        for e in row.effects:
            if e.metric == metric and e.full is not None:
                return e.full
    return None
