"""``junit.xml``: each verdict of the one evaluator a test case.

A failed check is a ``<failure>``; a warning or "insufficient data" is ``<skipped>`` with its
reason (CI test reports show it, and it does not fail the build); a pass is a plain test case.
Suites: ``regression`` (against a baseline), ``mechanism``, ``validity`` (the run delivered its
load and was not interrupted), ``threshold`` (everything else).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ragchaos.reports.results import GateCheck, GateResult, RunResult

__all__ = ["render_junit"]


def _suite_of(c: GateCheck) -> str:
    if c.metric in ("load_delivery", "run_completed"):
        return "validity"  # whether the run measured what it set out to: dropped arrivals, Ctrl-C
    if "baseline" in c.name or c.name.startswith("regression:"):
        return "regression"
    if (c.metric or "").startswith("mechanism.") or c.name.startswith("mechanism:"):
        return "mechanism"
    return "threshold"


def render_junit(result: RunResult, gate: GateResult | None) -> str:
    checks = gate.checks if gate else []
    suites = ET.Element("testsuites", name=f"ragchaos {result.scenario.name}")
    grouped: dict[str, list[GateCheck]] = {}
    for check in checks:
        grouped.setdefault(_suite_of(check), []).append(check)
    for suite_name, group in grouped.items():
        failures = sum(c.state == "fail" for c in group)
        skipped = sum(c.state in ("warn", "insufficient") for c in group)
        suite = ET.SubElement(suites, "testsuite", name=f"ragchaos.{suite_name}", tests=str(len(group)),
                              failures=str(failures), errors="0", skipped=str(skipped))
        for c in group:
            case = ET.SubElement(suite, "testcase", classname=f"ragchaos.{result.scenario.name}.{suite_name}",
                                 name=c.name, time="0")
            if c.measured:
                ET.SubElement(case, "system-out").text = f"measured: {c.measured}"
            if c.state == "fail":
                ET.SubElement(case, "failure", message=c.reason or "failed").text = c.reason
            elif c.state in ("warn", "insufficient"):
                ET.SubElement(case, "skipped", message=c.reason or c.state)
    suites.set("tests", str(len(checks)))
    suites.set("failures", str(sum(c.state == "fail" for c in checks)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
