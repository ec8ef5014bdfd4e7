"""``junit.xml``: each gate check (thresholds, mechanism verdicts, regressions) a test case."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ragchaos.reports.results import GateResult, RunResult

__all__ = ["render_junit"]


def _suite_of(name: str) -> str:
    head = name.split(":", 1)[0].strip()
    return head if head in ("threshold", "mechanism", "regression") else "check"


def render_junit(result: RunResult, gate: GateResult) -> str:
    suites = ET.Element("testsuites", name=f"ragchaos {result.scenario.name}")
    grouped: dict[str, list] = {}
    for check in gate.checks:
        grouped.setdefault(_suite_of(check.name), []).append(check)
    for suite_name, checks in grouped.items():
        failures = sum(not c.passed for c in checks)
        suite = ET.SubElement(suites, "testsuite", name=f"ragchaos.{suite_name}", tests=str(len(checks)),
                              failures=str(failures), errors="0", skipped="0")
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=f"ragchaos.{result.scenario.name}.{suite_name}",
                                 name=c.name.split(":", 1)[-1].strip(), time="0")
            if c.measured:
                ET.SubElement(case, "system-out").text = f"measured: {c.measured}"
            if not c.passed:
                ET.SubElement(case, "failure", message=c.reason or "failed").text = c.reason
    suites.set("tests", str(len(gate.checks)))
    suites.set("failures", str(sum(not c.passed for c in gate.checks)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
