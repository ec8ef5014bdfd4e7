"""The run's checks, as the one evaluator judged them (reports.checks): the same verdicts as
results.json, junit.xml and the exit code."""

from __future__ import annotations

from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Line, Section, Table

_WORD = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "insufficient": "INSUFFICIENT DATA"}


def gate(result: RunResult) -> Section:
    g = result.gate
    if g is None:
        return Section(key="gate", title="Checks", notes=["Not judged."])
    counts = {s: g.count(s) for s in _WORD}
    head = (f"{'PASS' if g.passed else 'FAIL'}: {counts['pass']} of {len(g.checks)} checks passed"
            + (f", {counts['fail']} failed" if counts["fail"] else "")
            + (f", {counts['warn']} warnings" if counts["warn"] else "")
            + (f", {counts['insufficient']} with insufficient data" if counts["insufficient"] else ""))
    lines = [Line(head, "PASS" if g.passed else "FAIL")]
    lines += [Line(f"{c.name}: {c.reason}", "FAIL" if c.state == "fail" else "N/A")
              for c in g.checks if c.state != "pass"]
    rows = [[c.name, c.measured, _WORD[c.state]] for c in g.checks]
    notes = []
    if counts["insufficient"]:
        notes.append("INSUFFICIENT DATA: too few samples for that percentile's confidence interval; neither a "
                     "pass nor a fail (run longer or at a higher rate, or check a lower percentile).")
    return Section(key="gate", title="Checks", lines=lines, notes=notes,
                   tables=[Table(["check", "measured (95% CI, n)", "verdict"], rows)])
