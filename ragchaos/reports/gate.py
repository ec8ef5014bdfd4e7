"""The gate: threshold checks from the scenario, mechanism verdicts, and p99 regression against a
saved baseline, noise-aware (median of N runs, and a change below a floor or one HDR bucket is
not a regression).

Threshold grammar (one check per string, as in a scenario's ``gate:`` list)::

    check   := path OP value
    path    := APP [ "." PHASE ] "." METRIC          (no PHASE: the whole run minus warm-up)
    OP      := "<" | "<=" | ">" | ">=" | "==" | "!="
    value   := NUMBER [ UNIT ]                       UNIT: us ms s m (latency), % (ratios)
             | NUMBER "x" APP                        that app's same metric, times NUMBER
    METRIC  := STAGE "." STAT                        query.total.p99, ingest.freshness.p50
             | ("response" | "service") [ "." KIND ] "." STAT    client latency (all kinds)
             | "ttft." STAT
             | "error_rate" [ "." CLASS ]            ratio; CLASS one of 429 5xx timeout reset shed quota other
             | "throughput" | "goodput"              per second (goodput: see reports.analysis)
             | "requests" | "ok"
             | "cache_hit_ratio." LAYER | "hit_at_k"
             | "cost_per_answer" | "tokens_per_answer" | "provider_calls_per_answer"
             | "mechanism." NAME                     a mechanism's measured value
    STAT    := p50 | p90 | p99 | p99.9 | p999 | pN[.N] | max | mean | count

Examples: ``reference.query.total.p99 < 800ms``, ``reference.error_rate < 1%``,
``reference.goodput > 4x naive``, ``reference.spike.error_rate.5xx < 1%``.
Latency values need a unit; a malformed expression raises ``GateError`` naming it.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragchaos.measure.hdr import Histogram
from ragchaos.measure.stages import PROXY_STAGE_FAMILY, STAGES
from ragchaos.reports import mechanisms
from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.results import ERROR_CLASSES, GateCheck, GateResult, RunResult, Summary

__all__ = [
    "Baseline",
    "Check",
    "GateError",
    "evaluate_checks",
    "load_baseline",
    "make_baseline",
    "parse_check",
    "parse_fraction",
    "parse_latency",
    "regression_checks",
    "run_gate",
]


class GateError(ValueError):
    """A gate expression, option or baseline that cannot be used; the message names it."""


# --------------------------------------------------------------------------------------------
# parsing

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}
_CHECK = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$")
_VALUE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(us|µs|ms|s|m|%)?$")
_RELATIVE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*x\s+([A-Za-z0-9_\-]+)$")
_STAT = re.compile(r"^(?:p([0-9]+(?:_[0-9]+)?)|max|mean|count)$")
_TIME_UNITS = {"us": 1.0, "µs": 1.0, "ms": 1_000.0, "s": 1_000_000.0, "m": 60_000_000.0}
_SCALAR = {
    "throughput": "rate",
    "goodput": "rate",
    "requests": "count",
    "ok": "count",
    "hit_at_k": "ratio",
    "cost_per_answer": "usd",
    "tokens_per_answer": "number",
    "provider_calls_per_answer": "number",
}
_STAGE_FAMILIES = {s.split(".")[0] for s in STAGES} | {PROXY_STAGE_FAMILY}
_METRIC_HEADS = _STAGE_FAMILIES | {"response", "service", "ttft", "error_rate", "cache_hit_ratio", "mechanism"} | set(_SCALAR)


@dataclass(frozen=True)
class Check:
    expr: str
    app: str
    phase: str  # ALL for the whole run
    metric: tuple[str, ...]
    kind: str  # latency | ratio | rate | count | usd | number
    op: str
    threshold: float | None  # absolute (latency in us, ratio as a fraction)
    factor: float | None = None  # relative: factor x other_app
    other_app: str | None = None

    @property
    def path(self) -> str:
        mid = "" if self.phase == ALL else f".{self.phase}"
        return f"{self.app}{mid}." + ".".join(self.metric)


def _percentile_of(stat: str) -> float | None:
    m = _STAT.match(stat)
    if not m or not m.group(1):
        return None
    text = m.group(1).replace("_", ".")
    if text == "999":
        return 99.9
    return float(text)


def _metric_kind(metric: list[str], fail: Callable[[str], GateError]) -> str:
    head = metric[0]
    if head == PROXY_STAGE_FAMILY:  # proxy.<dependency>.<endpoint>.STAT
        if len(metric) != 4 or not _STAT.match(metric[3]):
            raise fail("a dependency call timed at the proxy is proxy.DEPENDENCY.ENDPOINT.STAT, "
                       "e.g. proxy.vectordb.query.p99")
        return "latency"
    if head in _STAGE_FAMILIES:
        if len(metric) != 3 or not _STAT.match(metric[2]):
            raise fail(f"a stage metric is STAGE.STAT, e.g. {head}.total.p99")
        return "latency"
    if head in ("response", "service"):
        if len(metric) not in (2, 3) or not _STAT.match(metric[-1]):
            raise fail(f"write {head}.STAT or {head}.KIND.STAT, e.g. {head}.query.p99")
        return "latency"
    if head == "ttft":
        if len(metric) != 2 or not _STAT.match(metric[1]):
            raise fail("write ttft.STAT, e.g. ttft.p99")
        return "latency"
    if head == "error_rate":
        if len(metric) == 2 and metric[1] not in ERROR_CLASSES:
            raise fail(f"unknown error class {metric[1]!r}; expected one of {', '.join(ERROR_CLASSES)}")
        if len(metric) > 2:
            raise fail("write error_rate or error_rate.CLASS")
        return "ratio"
    if head == "cache_hit_ratio":
        if len(metric) != 2:
            raise fail("write cache_hit_ratio.LAYER, e.g. cache_hit_ratio.response")
        return "ratio"
    if head == "mechanism":
        if len(metric) != 2:
            raise fail("write mechanism.NAME, e.g. mechanism.batching")
        try:
            mech = mechanisms.get(metric[1])
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
        return "ratio" if mech.unit == "%" else "number"
    if len(metric) != 1:
        raise fail(f"{head} takes no sub-metric")
    return _SCALAR[head]


def parse_check(expr: str) -> Check:
    """Parse one gate expression; ``GateError`` says what is wrong with it."""

    def fail(problem: str) -> GateError:
        return GateError(f"gate expression {expr!r}: {problem}")

    if not isinstance(expr, str):
        raise GateError(f"gate expression {expr!r}: must be a string like 'reference.query.total.p99 < 800ms'")
    m = _CHECK.match(expr)
    if not m:
        raise fail("expected PATH OP VALUE, e.g. 'reference.query.total.p99 < 800ms'")
    path, op, value = m.groups()
    # p99.9 -> p99_9 so that "." only separates path parts
    path = re.sub(r"\bp([0-9]+)\.([0-9]+)$", r"p\1_\2", path)
    parts = path.split(".")
    if len(parts) < 2 or not all(parts):
        raise fail("the path is APP[.PHASE].METRIC, e.g. reference.error_rate")
    app, rest = parts[0], parts[1:]
    phase = ALL
    if rest[0] not in _METRIC_HEADS:
        if len(rest) < 2:
            raise fail(f"unknown metric {rest[0]!r}; known: {', '.join(sorted(_METRIC_HEADS))}")
        phase, rest = rest[0], rest[1:]
        if rest[0] not in _METRIC_HEADS:
            raise fail(f"unknown metric {rest[0]!r}; known: {', '.join(sorted(_METRIC_HEADS))}")
    kind = _metric_kind(rest, fail)
    if kind == "latency" and rest[-1] == "count":
        kind = "count"

    rel = _RELATIVE.match(value)
    if rel:
        return Check(expr, app, phase, tuple(rest), kind, op, None, float(rel.group(1)), rel.group(2))
    vm = _VALUE.match(value)
    if not vm:
        raise fail(f"bad value {value!r}; write a number with a unit (800ms, 2s, 1%) or 'N x APP'")
    number, unit = float(vm.group(1)), vm.group(2)
    if kind == "latency":
        if unit not in _TIME_UNITS:
            raise fail(f"a latency needs a time unit (us, ms, s, m), got {value!r}")
        threshold = number * _TIME_UNITS[unit]
    elif unit == "%":
        if kind != "ratio":
            raise fail(f"% applies to ratios (error_rate, cache_hit_ratio, hit_at_k), not {'.'.join(rest)}")
        threshold = number / 100.0
    elif unit is not None:
        raise fail(f"unit {unit!r} does not apply to {'.'.join(rest)}")
    else:
        threshold = number
    return Check(expr, app, phase, tuple(rest), kind, op, threshold)


def parse_latency(text: str) -> float:
    """``"1ms"`` -> 1000.0 (microseconds)."""
    m = _VALUE.match(text.strip())
    if not m or m.group(2) not in _TIME_UNITS:
        raise GateError(f"{text!r} is not a duration; write e.g. 500us, 2ms, 1s")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_fraction(text: str) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise GateError(f"{text!r} is not a fraction; write e.g. 10% or 0.1") from None
    if value < 0:
        raise GateError(f"{text!r} cannot be negative")
    return value


# --------------------------------------------------------------------------------------------
# measuring


def _stat(summary: Summary | None, stat: str) -> float | None:
    if summary is None or summary.count == 0:
        return None
    if stat == "max":
        return float(summary.max_us)
    if stat == "mean":
        return float(summary.mean_us)
    if stat == "count":
        return float(summary.count)
    p = _percentile_of(stat)
    return float(summary.percentile_us(p)) if p is not None else None


def measure(result: RunResult, app: str, phase: str, metric: Sequence[str]) -> float | None:
    """The value of one metric path in one run; None when the run has no data for it."""
    if app not in result.apps:
        raise KeyError(f"no app {app!r} in the run (apps: {', '.join(result.apps)})")
    f: Figures = figures(result, app, phase)
    head = metric[0]
    if head in _STAGE_FAMILIES:
        return _stat(f.stages.get(".".join(metric[:-1])), metric[-1])
    if head in ("response", "service"):
        table = f.response if head == "response" else f.service
        kind = metric[1] if len(metric) == 3 else "all"
        return _stat(table.get(kind), metric[-1])
    if head == "ttft":
        return _stat(f.ttft, metric[1])
    if head == "error_rate":
        if not f.requests:
            return None  # no requests: no error rate, and no pass for a check on it
        return f.error_rate_of(metric[1]) if len(metric) == 2 else f.error_rate
    if head == "cache_hit_ratio":
        return f.cache_hit_ratio.get(metric[1])
    if head == "mechanism":
        return mechanisms.get(metric[1]).measure(mechanisms.Context(result, app, phase, f)).value
    if head == "throughput":
        return f.throughput_rps
    if head == "goodput":
        return f.goodput_rps
    if head == "requests":
        return float(f.requests)
    if head == "ok":
        return float(f.ok)
    if head == "hit_at_k":
        corr = result.apps[app].correctness
        return corr.ratio if corr else None
    if head == "cost_per_answer":
        return f.per_answer(f.provider_cost_usd)
    if head == "tokens_per_answer":
        return f.per_answer(f.provider_tokens)
    if head == "provider_calls_per_answer":
        return f.per_answer(f.provider_calls)
    raise KeyError(f"unknown metric {'.'.join(metric)}")


def format_measure(value: float | None, kind: str) -> str:
    if value is None:
        return "no data"
    if kind == "latency":
        if value >= 1_000_000:
            return f"{value / 1_000_000:.3g} s"
        if value >= 1_000:
            return f"{value / 1_000:.3g} ms"
        return f"{value:.0f} us"
    if kind == "ratio":
        return f"{value * 100:.3g}%"
    if kind == "rate":
        return f"{value:.3g}/s"
    if kind == "usd":
        return f"${value:.3g}"
    return f"{value:.4g}"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _measure_all(results: Sequence[RunResult], app: str, phase: str, metric: Sequence[str]) -> float | None:
    return _median([measure(r, app, phase, metric) for r in results])


def evaluate_checks(results: Sequence[RunResult], exprs: Sequence[str]) -> list[GateCheck]:
    """Threshold checks over one or more runs (the median of each side across runs)."""
    out = []
    for expr in exprs:
        check = parse_check(expr)
        try:
            value = _measure_all(results, check.app, check.phase, check.metric)
            if check.other_app is not None:
                other = _measure_all(results, check.other_app, check.phase, check.metric)
                bound = None if other is None else other * (check.factor or 0.0)
            else:
                other, bound = None, check.threshold
        except KeyError as exc:
            out.append(GateCheck(name=f"threshold: {expr}", expr=expr, passed=False, reason=str(exc.args[0])))
            continue
        measured = format_measure(value, check.kind)
        if value is None or bound is None:
            missing = check.path if value is None else f"{check.other_app} (for {check.path})"
            out.append(GateCheck(name=f"threshold: {expr}", expr=expr, measured=measured, passed=False,
                                 reason=f"no data for {missing}"))
            continue
        passed = _OPS[check.op](value, bound)
        rhs = format_measure(bound, check.kind)
        if check.other_app is not None:
            rhs += f" ({check.factor:g} x {check.other_app} = {check.factor:g} x {format_measure(other, check.kind)})"
        reason = "" if passed else f"{check.path} = {measured}, not {check.op} {rhs}"
        out.append(GateCheck(name=f"threshold: {expr}", expr=expr, measured=measured, passed=passed, reason=reason))
    return out


def mechanism_checks(results: Sequence[RunResult]) -> list[GateCheck]:
    """Each mechanism expectation of the scenario, judged on the median measurement across runs."""
    first = results[0]
    out = []
    for app, exps in first.scenario.expect.items():
        for exp in exps:
            per_run = []
            verdict = None
            for r in results:
                if app not in r.apps:
                    continue
                verdict = mechanisms.base.judge(exp, r, app)
                per_run.append(verdict.measured)
            name = f"mechanism: {app}.{exp.mechanism}"
            if verdict is None:
                out.append(GateCheck(name=name, passed=False, reason=f"app {app!r} is not in the run"))
                continue
            value = _median(per_run)
            verdict = verdict.model_copy(update={"measured": value})
            if value is None:
                verdict.verdict = "N/A"
            else:
                ok = (exp.min is None or value >= exp.min) and (exp.max is None or value <= exp.max)
                verdict.verdict = "PASS" if ok else "FAIL"
            line = mechanisms.verdict_line(verdict)
            passed = verdict.verdict == "PASS"
            out.append(GateCheck(name=name, expr=verdict.expected, measured=mechanisms.format_value(value, verdict.unit),
                                 passed=passed, reason="" if passed else f"{app} {line}" + (
                                     f" ({verdict.detail})" if verdict.detail and value is None else "")))
    return out


# --------------------------------------------------------------------------------------------
# baseline and regression

BASELINE_KIND = "ragchaos-baseline"


@dataclass
class Baseline:
    scenario: str
    runs: int
    saved_at: float
    metrics: dict[str, float]  # path -> p99 in us (median across the saved runs)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 1, "kind": BASELINE_KIND, "scenario": self.scenario, "runs": self.runs,
                "saved_at": self.saved_at, "unit": "us", "metrics": self.metrics}


def _p99_paths(result: RunResult) -> list[tuple[str, tuple[str, ...]]]:
    """The (app, metric) pairs a baseline keeps: client response p99 per kind, and stage p99s."""
    out = []
    for app in sorted(result.apps):
        f = figures(result, app, ALL)
        for kind in sorted(k for k in f.response if k != "all"):
            if f.response[kind].count:
                out.append((app, ("response", kind, "p99")))
        for stage in sorted(f.stages):
            if f.stages[stage].count and "." in stage:
                fam, name = stage.split(".", 1)
                if fam in _STAGE_FAMILIES and "." not in name:
                    out.append((app, (fam, name, "p99")))
    return out


def make_baseline(results: Sequence[RunResult], now: float | None = None) -> Baseline:
    if not results:
        raise GateError("a baseline needs at least one run")
    metrics: dict[str, float] = {}
    for app, metric in _p99_paths(results[0]):
        value = _measure_all(results, app, ALL, metric)
        if value is not None:
            metrics[f"{app}." + ".".join(metric)] = value
    return Baseline(results[0].scenario.name, len(results), time.time() if now is None else now, metrics)


def load_baseline(path: str | Path) -> Baseline:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise GateError(f"{path}: no such baseline file") from None
    except json.JSONDecodeError as exc:
        raise GateError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict) or raw.get("kind") != BASELINE_KIND or not isinstance(raw.get("metrics"), dict):
        raise GateError(f"{path}: not a ragchaos baseline (save one with 'ragchaos baseline save RUN_DIR FILE')")
    try:
        metrics = {str(k): float(v) for k, v in raw["metrics"].items()}
    except (TypeError, ValueError):
        raise GateError(f"{path}: metrics must map names to numbers") from None
    return Baseline(str(raw.get("scenario", "")), int(raw.get("runs", 1)), float(raw.get("saved_at", 0)), metrics)


def bucket_width_us(value_us: float) -> float:
    """Width of the HDR bucket (3 significant figures) that holds ``value_us``."""
    raw = _BUCKETS.raw
    v = max(1, int(value_us))
    return float(raw.get_highest_equivalent_value(v) - raw.get_lowest_equivalent_value(v) + 1)


_BUCKETS = Histogram()


def regression_checks(
    results: Sequence[RunResult],
    baseline: Baseline,
    max_regression: float = 0.10,
    floor_us: float = 1_000.0,
) -> list[GateCheck]:
    """p99 regression against the baseline. A p99 regresses when it is more than
    ``max_regression`` above the baseline AND the change is above ``floor_us`` AND above one
    HDR bucket; smaller changes are noise, not regressions."""
    out = []
    for path, base in sorted(baseline.metrics.items()):
        parts = path.split(".")
        name = f"regression: {path}"
        app, metric = parts[0], tuple(parts[1:])
        try:
            current = _measure_all(results, app, ALL, metric)
        except KeyError as exc:
            out.append(GateCheck(name=name, passed=False, reason=str(exc.args[0])))
            continue
        if current is None:
            out.append(GateCheck(name=name, passed=False, reason=f"{path}: in the baseline ({format_measure(base, 'latency')}) but no data in this run"))
            continue
        change = current - base
        rel = change / base if base > 0 else 0.0
        regressed = rel > max_regression and change > floor_us and change > bucket_width_us(base)
        measured = f"{format_measure(current, 'latency')} vs {format_measure(base, 'latency')} ({rel * 100:+.1f}%)"
        reason = ""
        if regressed:
            reason = (f"{path} regressed {rel * 100:+.1f}%: {format_measure(current, 'latency')} vs baseline "
                      f"{format_measure(base, 'latency')} (allowed +{max_regression * 100:g}%)")
        out.append(GateCheck(name=name, expr=f"<= +{max_regression * 100:g}% vs baseline", measured=measured,
                             passed=not regressed, reason=reason))
    return out


def run_gate(
    results: Sequence[RunResult],
    *,
    extra_exprs: Sequence[str] = (),
    baseline: Baseline | None = None,
    max_regression: float = 0.10,
    floor_us: float = 1_000.0,
    include_mechanisms: bool = True,
) -> GateResult:
    """Every check for one scenario over one or more runs of it (medians across runs)."""
    if not results:
        raise GateError("no runs to gate")
    names = {r.scenario.name for r in results}
    if len(names) > 1:
        raise GateError(f"runs of different scenarios cannot be gated together: {', '.join(sorted(names))}")
    exprs = list(results[0].scenario.gate) + list(extra_exprs)
    for expr in exprs:
        parse_check(expr)  # every expression is checked before anything is measured
    checks = evaluate_checks(results, exprs)
    if include_mechanisms:
        checks += mechanism_checks(results)
    if baseline is not None:
        checks += regression_checks(results, baseline, max_regression, floor_us)
    return GateResult(passed=all(c.passed for c in checks), checks=checks)
