"""The gate's checks (thresholds, mechanisms, regression), when the run was gated."""

from __future__ import annotations

from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Line, Section, Table


def gate(result: RunResult) -> Section:
    g = result.gate
    if g is None:
        return Section(key="gate", title="Gate", notes=["Not gated."])
    lines = [Line(f"{'PASS' if g.passed else 'FAIL'}: {sum(c.passed for c in g.checks)} of {len(g.checks)} checks passed",
                  "PASS" if g.passed else "FAIL")]
    lines += [Line(f"{c.name}: {c.reason}", "FAIL") for c in g.checks if not c.passed]
    rows = [[c.name, c.measured, "PASS" if c.passed else "FAIL"] for c in g.checks]
    return Section(key="gate", title="Gate", lines=lines, tables=[Table(["check", "measured", "result"], rows)])
