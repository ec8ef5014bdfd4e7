"""The gate: which checks a CI job holds a run to, and the files it writes about them.

    specs = gate_specs(result, apps=["reference"], metrics=DEFAULT_METRICS, extra=["reference.error_rate < 1%"],
                       against_baseline=True)
    gate = evaluate(result, specs, apps=["reference"], baseline_app="baseline")
    write_gate_files(out_dir, result, gate, meta)       # gate.json, gate-junit.xml, gate.md

The system under test (``reference``) is gated by default; the naive app, a contrast for demos,
only when asked (``apps``). Against a baseline, every metric in ``metrics`` of every gated app
becomes the check ``APP.METRIC <= 1x baseline``. Exit codes (``EXIT_*``) are the gate's
contract with scripts, documented in ``ragchaos gate --help`` and docs/ci.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragchaos.reports.checks.grammar import CheckError, closest, parse_check
from ragchaos.reports.checks.measure import measure
from ragchaos.reports.checks.regression import StoredBaseline
from ragchaos.reports.checks.spec import CheckSpec
from ragchaos.reports.results import GateResult, RunResult

__all__ = [
    "DEFAULT_APPS",
    "DEFAULT_METRICS",
    "EXIT_FAILED",
    "EXIT_HARNESS",
    "EXIT_PASS",
    "EXIT_USAGE",
    "GateError",
    "gate_specs",
    "make_stored",
    "parse_metrics",
    "render_gate_markdown",
    "shared_failures",
    "write_gate_files",
]

EXIT_PASS = 0  # every check passed (warnings and "insufficient data" are printed, not failed)
EXIT_FAILED = 1  # a check failed or a regression was detected
EXIT_USAGE = 2  # a mistake in the command, the scenario or a file it names
EXIT_HARNESS = 3  # the run could not be carried out (a process, the baseline build, the stack)

GateError = CheckError

DEFAULT_APPS = ("reference",)
# end to end (the client's response time of queries) and the server's whole query. A stage
# that runs only on a cache miss (query.generate: ~5% of the ci scenario's queries, ~130 a
# side) or is mostly cache hits (query.embed) has too few slow samples to resolve +20% in a
# 3-minute run (BENCHMARKS.md), and every gated metric raises the bar for all the others
# (Holm): add them with --metrics when the run is long enough.
DEFAULT_METRICS = ("response.query.p99", "query.total.p99")


def parse_metrics(text: str | None) -> list[str]:
    """``--metrics response.query.p99,query.total.p99`` -> the list; each checked by the grammar."""
    if not text:
        return list(DEFAULT_METRICS)
    out = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        try:
            check = parse_check(f"x.{word} <= 1x baseline")
        except CheckError as exc:
            msg = str(exc).split(": ", 1)[1]
            raise CheckError(f"--metrics {word}: {msg}") from None
        if check.phase != "all":
            raise CheckError(f"--metrics {word}: a gated metric is METRIC.STAT, e.g. query.total.p99"
                             f"{closest(word, DEFAULT_METRICS)}")
        out.append(word)
    return out


def check_apps(apps: Sequence[str], result: RunResult) -> None:
    """Every app named is in the run, or ``CheckError`` with the closest name."""
    for app in apps:
        if app not in result.apps:
            raise CheckError(f"--apps {app}: not in this run{closest(app, result.apps)} "
                             f"(apps: {', '.join(result.apps)})")


def gate_specs(result: RunResult, *, apps: Sequence[str], metrics: Sequence[str], extra: Sequence[str] = (),
               against_baseline: bool = False) -> list[CheckSpec]:
    """The scenario's checks, ``--check`` expressions, and one ``<= 1x baseline`` check per gated
    metric of each gated app (when there is a baseline)."""
    from ragchaos.reports.checks.evaluate import scenario_specs

    specs = scenario_specs(result)
    for expr in extra:
        parse_check(expr)  # refused before anything is measured
        specs.append(CheckSpec(check=expr))
    if against_baseline:
        specs += [CheckSpec(check=f"{app}.{metric} <= 1x baseline") for app in apps for metric in metrics]
    return specs


def make_stored(results: Sequence[RunResult], apps: Sequence[str], metrics: Sequence[str],
                now: float | None = None) -> StoredBaseline:
    """A stored baseline: each gated metric's value in each run (their spread is the noise)."""
    if not results:
        raise CheckError("a baseline needs runs")
    names = {r.scenario.name for r in results}
    if len(names) > 1:
        raise CheckError(f"runs of different scenarios cannot make one baseline: {', '.join(sorted(names))}")
    out: dict[str, list[float]] = {}
    for app in apps:
        for metric in metrics:
            check = parse_check(f"{app}.{metric} <= 1x baseline")
            values = []
            for r in results:
                if app in r.apps:
                    v = measure(r, app, check.phase, check.metric).value
                    if v is not None:
                        values.append(v)
            if values:
                out[check.path_for(app)] = values
    return StoredBaseline(results[0].scenario.name, len(results), time.time() if now is None else now, out)


def shared_failures(result: RunResult, gate: GateResult, baseline_app: str) -> GateResult:
    """In a same-run A/B, a check the candidate fails and the baseline build fails too, in the
    same run, under the same load and faults, says nothing about the change: it is the machine
    or the scenario (measured: a 10 s stall of a shared machine made both apps shed 8% of a
    phase). Such a failure becomes a warning that says so; the candidate's own failures stay."""
    from ragchaos.reports.checks.evaluate import evaluate

    out = []
    for c in gate.checks:
        if c.state != "fail" or not c.app or c.app == baseline_app or c.n_baseline is not None or not c.expr:
            out.append(c)
            continue
        head = f"{c.app}."
        if not c.expr.startswith((head, "*.")):
            out.append(c)
            continue
        expr = baseline_app + "." + c.expr.split(".", 1)[1]
        mirror = evaluate(result, [CheckSpec(check=expr)], apps=[baseline_app]).checks
        if mirror and mirror[0].state == "fail":
            out.append(c.model_copy(update={
                "status": "warn", "passed": True,
                "reason": f"{c.reason}; the baseline build fails it too in this run ({mirror[0].measured}): "
                          "the environment or the scenario, not this change"}))
        else:
            out.append(c)
    return GateResult(passed=all(c.passed for c in out), checks=out)


def _state_word(state: str) -> str:
    return {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "insufficient": "INSUFFICIENT DATA"}[state]


def summary_line(gate: GateResult) -> str:
    counts = {s: gate.count(s) for s in ("pass", "fail", "warn", "insufficient")}
    verdict = "PASS" if gate.passed else "FAIL"
    return (f"ragchaos gate: {verdict} ({counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warnings, "
            f"{counts['insufficient']} insufficient data; {len(gate.checks)} checks)")


def render_gate_markdown(gate: GateResult, meta: dict[str, Any]) -> str:
    """The gate's Markdown: verdict first, then one row per check (for $GITHUB_STEP_SUMMARY)."""
    lines = [f"## ragchaos gate: {'PASS' if gate.passed else 'FAIL'}", ""]
    lines.append(summary_line(gate).removeprefix("ragchaos gate: "))
    lines.append("")
    if meta:
        lines.append(" · ".join(f"{k}: {v}" for k, v in meta.items() if v not in (None, "", [])))
        lines.append("")
    lines += ["| check | measured | verdict | why |", "|---|---|---|---|"]
    order = {"fail": 0, "warn": 1, "insufficient": 2, "pass": 3}
    for c in sorted(gate.checks, key=lambda c: order[c.state]):
        cells = [c.name, c.measured, _state_word(c.state), c.reason]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    lines += ["", "A verdict against the baseline reads: the candidate's change [95% interval] (n candidate vs "
              "baseline); resolution is the smallest increase this run detects with 95% power. "
              "INSUFFICIENT DATA is a warning: the run had too few samples for that percentile."]
    return "\n".join(lines) + "\n"


def write_gate_files(out_dir: Path, result: RunResult, gate: GateResult, meta: dict[str, Any]) -> dict[str, Path]:
    """gate.json, gate-junit.xml and gate.md in ``out_dir``; the run's own files are not touched."""
    from ragchaos.reports.junit import render_junit

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "gate.json", "junit": out_dir / "gate-junit.xml", "markdown": out_dir / "gate.md"}
    doc = {"kind": "ragchaos-gate", "schema_version": 1, "passed": gate.passed,
           "counts": {s: gate.count(s) for s in ("pass", "fail", "warn", "insufficient")},
           "meta": meta, "checks": [c.model_dump(mode="json") for c in gate.checks]}
    paths["json"].write_text(json.dumps(doc, indent=1) + "\n")
    paths["junit"].write_text(render_junit(result, gate))
    paths["markdown"].write_text(render_gate_markdown(gate, meta))
    return paths
