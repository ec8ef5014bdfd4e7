"""Checks: the one model of "what must hold" after a run, and the one evaluator of it.

- ``spec``: ``CheckSpec``, an entry of a scenario's ``checks:`` (and the conversion of the older
  ``gate:``/``expect:``/steady-state dialects);
- ``grammar``: the expression grammar (``parse_check``) and its helpful refusals;
- ``measure``: the value (and histogram) of a metric path in a run;
- ``evaluate``: ``evaluate(result, specs)`` -> ``GateResult``, every verdict with its sample
  size, confidence interval and status (pass, fail, warn, insufficient);
- ``regression``: the two-sample decision against a baseline build in the same run, or
  against a stored baseline of N >= 3 runs, with Holm's family-wise control.

Every output (terminal, results.json, report.html, summary.md, junit.xml, gate.json, the GitHub
summary, the exit code) reads the ``GateResult`` this package returns. Submodules are imported
on use: ``results`` imports ``spec``, and ``evaluate`` imports ``results``.
"""

from __future__ import annotations

from typing import Any

from ragchaos.reports.checks.spec import CheckSpec

__all__ = ["CheckSpec", "evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from ragchaos.reports.checks.evaluate import evaluate

        return evaluate
    raise AttributeError(name)
