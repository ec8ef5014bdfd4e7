"""The one evaluator: a run (and optionally a baseline) in, one ``GateResult`` out.

    gate = evaluate(result)                              # the scenario's own checks
    gate = evaluate(result, specs, baseline_app="baseline", apps=["reference"])   # same-run A/B

Each verdict carries its status: ``pass``; ``fail`` (severity fail); ``warn`` (a failed check of
severity warn, or one that cannot be judged as written, e.g. about an app not in this run);
``insufficient`` (a percentile with fewer samples than its interval needs, e.g. "p99 needs at
least 368 samples, this run has 43": never a pass or a fail). A percentile verdict carries its
sample count and 95% confidence interval; a verdict against a baseline the ratio, its interval,
the Holm-adjusted p-value and the resolution (``checks.regression``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ragchaos.measure.hdr import Histogram
from ragchaos.reports import mechanisms
from ragchaos.reports.checks.delivery import delivery_checks
from ragchaos.reports.checks.grammar import ALL, OPS, Check, CheckError, parse_check
from ragchaos.reports.checks.measure import Measured, format_measure, measure
from ragchaos.reports.checks.reach import reach_checks
from ragchaos.reports.checks.regression import RegressionPolicy, StoredBaseline, judge_against_baseline
from ragchaos.reports.checks.spec import CheckSpec, legacy_checks
from ragchaos.reports.results import GateCheck, GateResult, MechanismVerdict, RunResult, Summary
from ragchaos.reports.stats import QuantileEstimate, Sample, quantile_ci

__all__ = ["evaluate", "mechanism_verdicts", "scenario_specs", "verdict_line"]


def scenario_specs(result: RunResult) -> list[CheckSpec]:
    """The checks a run was written with: ``scenario.checks``, plus the older ``gate``/``expect``
    keys of a results.json written before the one check model."""
    specs = list(result.scenario.checks)
    if result.scenario.gate or result.scenario.expect:
        legacy, _ = legacy_checks({"gate": result.scenario.gate,
                                   "expect": {a: [e.model_dump() for e in exps]
                                              for a, exps in result.scenario.expect.items()}})
        specs += [CheckSpec.model_validate(x) for x in legacy]
    return specs


def _sample(summary: Summary | None) -> Sample | None:
    if summary is None or not summary.count or not summary.hdr:
        return None
    return Sample.of(Histogram.decode(summary.hdr))


def _estimate(check: Check, measured: Measured) -> QuantileEstimate | None:
    p = check.percentile
    sample = _sample(measured.summary)
    if p is None or sample is None:
        return None
    return quantile_ci(sample, p)


def _insufficient(check: Check, app: str, est: QuantileEstimate, where: str = "this run") -> GateCheck:
    stat = check.metric[-1].replace("_", ".")
    return GateCheck(name=f"{app}: {check.expr}", expr=check.expr, app=app, metric=".".join(check.metric),
                     status="insufficient", passed=True, n=est.n,
                     measured=f"{est.n} samples",
                     reason=f"insufficient data: {stat} needs at least {est.needed} samples, {where} has {est.n}")


def _ci_text(est: QuantileEstimate | None) -> str:
    if est is None or est.low is None or est.high is None:
        return ""
    return (f" [{format_measure(est.low, 'latency')}, {format_measure(est.high, 'latency')}]"
            f" (95% CI, n={est.n:,})")


def _judge_one(result: RunResult, spec: CheckSpec, check: Check, app: str) -> GateCheck:
    name = f"{app}: {check.expr}" if check.app == "*" else check.expr
    base = GateCheck(name=name, expr=check.expr, app=app, metric=".".join(check.metric), severity=spec.severity,
                     passed=True)

    def verdict(ok: bool, measured: str, reason: str = "", **fields: object) -> GateCheck:
        status = "pass" if ok else ("fail" if spec.severity == "fail" else "warn")
        return base.model_copy(update={"status": status, "passed": status != "fail", "measured": measured,
                                       "reason": "" if ok else reason, **fields})

    def cannot(reason: str) -> GateCheck:
        return base.model_copy(update={"status": "warn", "reason": reason, "measured": "not judged"})

    off = result.apps[app].mechanisms_off
    missing = [m for m in spec.requires if off is not None and m in off]
    if missing:
        return verdict(False, "mechanism off",
                       f"relies on {', '.join(missing)}, switched off in this run (RAGCHAOS_DISABLE): "
                       "a pass would be for the wrong reason")
    if spec.requires and off is None:
        return cannot(f"relies on {', '.join(spec.requires)}, but {app} does not report its mechanisms")
    try:
        measured = measure(result, app, check.phase, check.metric)
        other: Measured | None = None
        if check.other_phase is not None:
            other = measure(result, app, check.other_phase, check.metric)
        elif check.other_app is not None:
            if check.other_app not in result.apps:
                return cannot(f"{check.other_app} is not in this run")
            other = measure(result, check.other_app, check.phase, check.metric)
    except KeyError as exc:
        return verdict(False, "no data", str(exc.args[0]))
    est = _estimate(check, measured)
    if est is not None and not est.sufficient:
        return _insufficient(check, app, est)
    other_est = _estimate(check, other) if other is not None else None
    if other_est is not None and not other_est.sufficient:
        where = f"phase {check.other_phase}" if check.other_phase else str(check.other_app)
        return _insufficient(check, app, other_est, where)
    value = measured.value
    if check.metric[0] == "mechanism":  # in the mechanism's own unit: "23 chunks per provider call"
        text = mechanisms.format_value(value, mechanisms.get(check.metric[1]).unit)
    else:
        text = format_measure(value, check.kind) + _ci_text(est)
    extra: dict[str, object] = {"value": value, "n": est.n if est else None, "detail": measured.detail,
                                "low": est.low if est else None, "high": est.high if est else None}
    if value is None:
        return verdict(False, "no data", f"no data for {check.path_for(app)}", **extra)
    if other is not None:
        if other.value is None:
            return verdict(False, text, f"no data for the comparison ({check.other_phase or check.other_app})",
                           **extra)
        bound = other.value * (check.factor or 0.0)
        rhs = (f"{format_measure(bound, check.kind)} ({check.factor:g} x {check.other_phase or check.other_app} "
               f"= {check.factor:g} x {format_measure(other.value, check.kind)})")
    else:
        assert check.threshold is not None
        bound = check.threshold
        rhs = format_measure(bound, check.kind)
    ok = OPS[check.op](value, bound)
    return verdict(ok, text, f"{check.path_for(app)} = {format_measure(value, check.kind)}, not {check.op} {rhs}",
                   **extra)


def _apps_for(check: Check, result: RunResult, apps: Sequence[str] | None) -> list[str]:
    """The apps a check is judged for: ``*`` is every app of the run (or every chosen one); a
    named app is judged unless ``apps`` leaves it out (then it is not gated, by choice)."""
    if check.app == "*":
        return [a for a in (apps if apps is not None else result.apps) if a in result.apps]
    return [] if apps is not None and check.app not in apps else [check.app]


def evaluate(
    result: RunResult,
    specs: Sequence[CheckSpec] | None = None,
    *,
    apps: Sequence[str] | None = None,
    baseline_app: str | None = None,
    stored: StoredBaseline | None = None,
    policy: RegressionPolicy | None = None,
) -> GateResult:
    """Every check, judged once. ``apps`` limits which apps are judged (default: every app of
    the run); ``baseline_app`` is the app that ran the baseline build beside the candidate (a
    same-run A/B); ``stored`` a baseline saved from earlier runs. ``x baseline`` checks need one
    of the two."""
    specs = scenario_specs(result) if specs is None else list(specs)
    policy = policy or RegressionPolicy()
    out: list[GateCheck] = []
    against_baseline: list[tuple[CheckSpec, Check, str]] = []
    for spec in specs:
        try:
            check = parse_check(spec.check)
        except CheckError as exc:
            out.append(GateCheck(name=spec.check, expr=spec.check, status="fail", passed=False, reason=str(exc)))
            continue
        for app in _apps_for(check, result, apps):
            if app not in result.apps:
                status = "fail" if spec.severity == "fail" else "warn"
                out.append(GateCheck(name=check.expr, expr=check.expr, app=app, metric=".".join(check.metric),
                                     severity=spec.severity, status=status, passed=status != "fail",
                                     measured="no data", reason=f"app {app!r} is not in this run"))
            elif check.against_baseline:
                against_baseline.append((spec, check, app))
            else:
                if check.other_app is not None and _is_phase(result, check.other_app):
                    check = _as_phase_relative(check)
                out.append(_judge_one(result, spec, check, app))
    if against_baseline:
        out += judge_against_baseline(result, against_baseline, baseline_app=baseline_app, stored=stored,
                                      policy=policy)
    out += [c for c in reach_checks(result) if apps is None or c.app in apps]  # did each fault reach its target
    out += [c for c in delivery_checks(result) if apps is None or c.app in apps]  # was the load delivered
    return GateResult(passed=all(c.passed for c in out), checks=out)


def _is_phase(result: RunResult, name: str | None) -> bool:
    if name is None or name in result.apps:
        return False
    return result.phase(name) is not None or any(name in a.phases for a in result.apps.values())


def _as_phase_relative(check: Check) -> Check:
    """``N x NAME`` where NAME is a phase of the run, not an app: this app's figure in that phase."""
    from dataclasses import replace

    return replace(check, other_phase=check.other_app, other_app=None)


def verdict_line(c: GateCheck) -> str:
    """One terminal line per verdict: ``FAIL reference.error_rate < 1%: 2.1%, not < 1%``."""
    state = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "insufficient": "INSUFFICIENT DATA"}[c.state]
    detail = c.reason or c.measured
    return f"{state:<5} {c.name}: {detail}" if detail else f"{state:<5} {c.name}"



def mechanism_verdicts(gate: GateResult) -> dict[str, list[MechanismVerdict]]:
    """The verdicts of ``APP[.PHASE].mechanism.NAME`` checks, per app, as the report's mechanism
    table shows them: the same verdicts as the gate's, not a second judgement."""
    out: dict[str, list[MechanismVerdict]] = {}
    for c in gate.checks:
        if not c.app or not (c.metric or "").startswith("mechanism."):
            continue
        try:
            check = parse_check(c.expr)
        except CheckError:
            continue
        mech = mechanisms.get(check.metric[1])
        if check.threshold is not None:
            bound = mechanisms.format_value(check.threshold, mech.unit if mech.unit == "%" else "").strip()
        else:
            bound = f"{check.factor:g}x {check.other_app}"
        expected = f"{check.op} {bound}" + (f" in phase {check.phase}" if check.phase != ALL else "")
        verdict = "PASS" if c.state == "pass" else ("N/A" if c.value is None and c.app in gate_apps(gate) else "FAIL")
        out.setdefault(c.app, []).append(MechanismVerdict(
            mechanism=mech.name, expected=expected, measured=c.value, unit=mech.unit, verdict=verdict,
            detail=c.detail or (c.reason if c.state != "pass" else "")))
    return out


def gate_apps(gate: GateResult) -> set[str]:
    """Apps that had data in the run (a check about an app not in the run names it in its reason)."""
    return {c.app for c in gate.checks if c.app and "is not in this run" not in c.reason}
