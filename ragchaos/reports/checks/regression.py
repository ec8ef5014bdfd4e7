"""Checks against a baseline (``... <= 1x baseline``): is the candidate slower than its baseline?

Two kinds of baseline:

- **the same run** (``baseline_app``): the baseline build ran beside the candidate under the same
  schedule and faults. Per metric, ``stats.compare_quantiles`` gives the ratio candidate /
  baseline with its 95% interval and a one-sided p-value for "more than ``factor`` times the
  baseline"; Holm's procedure over every such metric of the gate keeps the chance of any false
  alarm in the whole gate at ``policy.alpha`` (default 1%).
- **a stored baseline** (``StoredBaseline``, ``ragchaos baseline save`` of N >= 3 runs): each
  metric's value in the N runs gives its run-to-run spread; the run regresses when its value
  exceeds the one-sided prediction bound (``stats.prediction_bound``) at level alpha / m
  (Bonferroni over the m stored metrics), times ``factor``.

Every verdict states its resolution: the smallest increase it would detect with 95% power.
Above ``policy.want`` (default +20%) a pass is a warning: the gate says it cannot see a change
of that size instead of passing quietly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.checks.grammar import ALL, Check, CheckError
from ragchaos.reports.checks.measure import format_measure, measure
from ragchaos.reports.checks.spec import CheckSpec
from ragchaos.reports.results import GateCheck, RunResult, Summary
from ragchaos.reports.stats import Difference, Sample, compare_quantiles, holm, min_samples, prediction_bound
from ragchaos.reports.stats.multiple import holm_adjusted
from ragchaos.reports.stats.runs import MIN_RUNS

__all__ = ["BASELINE_KIND", "RegressionPolicy", "StoredBaseline", "decide", "judge_against_baseline", "load_stored"]

BASELINE_KIND = "ragchaos-baseline"


@dataclass(frozen=True)
class RegressionPolicy:
    alpha: float = 0.01  # the whole gate's false-alarm rate (family-wise)
    power: float = 0.95
    want: float = 0.20  # the increase the gate must be able to see
    confidence: float = 0.95  # of the intervals printed


@dataclass
class StoredBaseline:
    """Per metric path (``reference.response.query.p99``), its value in each saved run (us)."""

    scenario: str
    runs: int
    saved_at: float
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 2, "kind": BASELINE_KIND, "scenario": self.scenario, "runs": self.runs,
                "saved_at": self.saved_at, "unit": "us", "metrics": self.metrics}


def load_stored(path: str | Path) -> StoredBaseline:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"{path}: no such baseline file") from None
    except json.JSONDecodeError as exc:
        raise CheckError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict) or raw.get("kind") != BASELINE_KIND or not isinstance(raw.get("metrics"), dict):
        raise CheckError(f"{path}: not a ragchaos baseline (save one with 'ragchaos baseline save RUN RUN RUN FILE')")
    if raw.get("schema_version") != 2:
        raise CheckError(f"{path}: a baseline of one median per metric (schema 1) has no run-to-run spread; "
                         "save it again from 3 or more runs with 'ragchaos baseline save'")
    try:
        metrics = {str(k): [float(x) for x in v] for k, v in raw["metrics"].items()}
    except (TypeError, ValueError):
        raise CheckError(f"{path}: metrics must map names to lists of numbers") from None
    return StoredBaseline(str(raw.get("scenario", "")), int(raw.get("runs", 0)), float(raw.get("saved_at", 0)),
                          metrics)


def _sample(summary: Summary | None) -> Sample | None:
    if summary is None or not summary.count or not summary.hdr:
        return None
    return Sample.of(Histogram.decode(summary.hdr))


def _pct(ratio: float) -> str:
    return f"{(ratio - 1.0) * 100:+.0f}%"


def _label(check: Check, app: str) -> str:
    phase = "" if check.phase == ALL else f"{check.phase} "
    metric = ".".join(check.metric[:-1])
    return f"{app} {phase}{metric} {check.metric[-1].replace('_', '.')}"


def judge_against_baseline(
    result: RunResult,
    items: Sequence[tuple[CheckSpec, Check, str]],
    *,
    baseline_app: str | None,
    stored: StoredBaseline | None,
    policy: RegressionPolicy,
) -> list[GateCheck]:
    if baseline_app is not None and baseline_app in result.apps:
        return _same_run(result, items, baseline_app, policy)
    if stored is not None:
        return _stored(result, items, stored, policy)
    return [GateCheck(name=_label(c, app) + " vs baseline", expr=c.expr, app=app, metric=".".join(c.metric),
                      status="warn", passed=True, measured="not judged",
                      reason="no baseline: run 'ragchaos gate --baseline-ref REF' or give --baseline-file")
            for _, c, app in items]


def _same_run(result: RunResult, items: Sequence[tuple[CheckSpec, Check, str]], baseline_app: str,
              policy: RegressionPolicy) -> list[GateCheck]:
    rows: list[tuple[CheckSpec, Check, str, Any]] = []
    out: list[GateCheck] = []
    for spec, check, app in items:
        name = _label(check, app) + " vs baseline"
        p = check.percentile
        assert p is not None  # the grammar allows 'x baseline' on percentiles only
        try:
            cand = _sample(measure(result, app, check.phase, check.metric).summary)
            base = _sample(measure(result, baseline_app, check.phase, check.metric).summary)
        except KeyError as exc:
            out.append(GateCheck(name=name, expr=check.expr, app=app, status="fail", passed=False,
                                 reason=str(exc.args[0])))
            continue
        n_c, n_b = (cand.n if cand else 0), (base.n if base else 0)
        need = min_samples(p, policy.confidence)
        if cand is None or base is None or min(n_c, n_b) < need:
            out.append(GateCheck(name=name, expr=check.expr, app=app, metric=".".join(check.metric),
                                 status="insufficient", passed=True, n=n_c, n_baseline=n_b,
                                 measured=f"n={n_c:,} vs {n_b:,}",
                                 reason=f"insufficient data: {check.metric[-1].replace('_', '.')} needs at least "
                                        f"{need} samples per side, this run has {n_c:,} vs {n_b:,}"))
            continue
        diff = compare_quantiles(base, cand, p, tolerance=(check.factor or 1.0) - 1.0, confidence=policy.confidence)
        rows.append((spec, check, app, diff))
    if not rows:
        return out
    decisions = decide([d for *_, d in rows], [(c.factor or 1.0) - 1.0 for _, c, _, _ in rows], policy)
    for (spec, check, app, d), (reject, p_adj, res) in zip(rows, decisions, strict=True):
        measured = (f"{_pct(d.ratio)} [{_pct(d.low)}, {_pct(d.high)}] (95% CI, n={d.cand.n:,} vs {d.base.n:,}); "
                    f"{format_measure(d.cand.value, 'latency')} vs {format_measure(d.base.value, 'latency')}; "
                    f"resolution {res * 100:+.0f}%")
        if reject:
            status = "fail" if spec.severity == "fail" else "warn"
            reason = (f"REGRESSION: {_pct(d.ratio)} [{_pct(d.low)}, {_pct(d.high)}], Holm-adjusted p = {p_adj:.2g} "
                      f"< {policy.alpha:g}")
        elif res > policy.want:
            status, reason = "warn", (f"cannot see a {policy.want * 100:.0f}% regression: this run resolves "
                                      f"{res * 100:+.0f}% at 95% power (more samples needed)")
        else:
            status, reason = "pass", ""
        out.append(GateCheck(name=_label(check, app) + " vs baseline", expr=check.expr, app=app,
                             metric=".".join(check.metric), severity=spec.severity, status=status,
                             passed=status != "fail", measured=measured, reason=reason, n=d.cand.n,
                             n_baseline=d.base.n, value=d.cand.value, ratio=d.ratio, low=d.low, high=d.high,
                             p_value=p_adj, resolution=res))
    return out


def decide(diffs: Sequence[Difference], tolerances: Sequence[float],
           policy: RegressionPolicy) -> list[tuple[bool, float, float]]:
    """The whole gate's decision over its metrics: for each, (regressed, Holm-adjusted p-value,
    resolution at level alpha / m). The benchmark's simulation calls this same function."""
    p_values = [d.p_value if d.p_value is not None else 1.0 for d in diffs]
    m = len(diffs)
    out = []
    for d, tol, reject, p_adj in zip(diffs, tolerances, holm(p_values, policy.alpha), holm_adjusted(p_values),
                                     strict=True):
        res = d.resolution(policy.alpha / m, policy.power, tol)
        out.append((reject, p_adj, res if res is not None else float("inf")))
    return out


def _stored(result: RunResult, items: Sequence[tuple[CheckSpec, Check, str]], stored: StoredBaseline,
            policy: RegressionPolicy) -> list[GateCheck]:
    out: list[GateCheck] = []
    m = max(1, len(items))
    for spec, check, app in items:
        path = check.path_for(app)
        name = _label(check, app) + " vs stored baseline"
        values = stored.metrics.get(path)
        base = GateCheck(name=name, expr=check.expr, app=app, metric=".".join(check.metric), severity=spec.severity,
                         passed=True)
        if not values:
            out.append(base.model_copy(update={"status": "warn", "measured": "not judged",
                                               "reason": f"{path} is not in the stored baseline"}))
            continue
        if len(values) < MIN_RUNS:
            out.append(base.model_copy(update={
                "status": "insufficient", "measured": f"{len(values)} runs",
                "reason": f"insufficient data: a stored baseline needs at least {MIN_RUNS} runs of {path}, "
                          f"it has {len(values)}"}))
            continue
        try:
            current = measure(result, app, check.phase, check.metric).value
        except KeyError as exc:
            out.append(base.model_copy(update={"status": "fail", "passed": False, "reason": str(exc.args[0])}))
            continue
        spread = prediction_bound(values, 1.0 - policy.alpha / m)
        bound = spread.bound * (check.factor or 1.0)
        if current is None:
            out.append(base.model_copy(update={"status": "fail", "passed": False, "measured": "no data",
                                               "reason": f"{path}: in the baseline but no data in this run"}))
            continue
        ratio = current / spread.center
        resolution = bound / spread.center - 1.0
        measured = (f"{format_measure(current, 'latency')} vs {format_measure(spread.center, 'latency')} "
                    f"({_pct(ratio)}; {spread.runs} runs, run-to-run sd {spread.log_sd * 100:.0f}%, "
                    f"bound {format_measure(bound, 'latency')}, resolution {resolution * 100:+.0f}%)")
        if current > bound:
            status = "fail" if spec.severity == "fail" else "warn"
            reason = f"REGRESSION: {_pct(ratio)}, above the {spread.runs}-run bound {format_measure(bound, 'latency')}"
        elif resolution > policy.want:
            status, reason = "warn", (f"cannot see a {policy.want * 100:.0f}% regression: the stored baseline's "
                                      f"run-to-run spread resolves {resolution * 100:+.0f}% (save more runs)")
        else:
            status, reason = "pass", ""
        out.append(base.model_copy(update={"status": status, "passed": status != "fail", "measured": measured,
                                           "reason": reason, "value": current, "ratio": ratio,
                                           "resolution": resolution}))
    return out
