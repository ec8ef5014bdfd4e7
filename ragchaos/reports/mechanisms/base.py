"""The mechanism registry: a name -> a function that measures one effect from an app's figures.

A mechanism module (one per file in this package) looks like::

    @register("batching", unit="chunks per provider call")
    def batching(ctx: Context) -> Measurement:
        return Measurement(ctx.figures.embed_batch_mean, detail="...")

``evaluate(result)`` returns the verdicts of the run's ``mechanism.NAME`` checks (judged by the
one evaluator, ``reports.checks``), shown as lines such as
``batching: 23.4 chunks per provider call (expected >= 16): PASS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ragchaos.core.registry import Registry
from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.results import Expectation, MechanismVerdict, RunResult

__all__ = [
    "Context",
    "Measurement",
    "Mechanism",
    "evaluate",
    "format_value",
    "get",
    "names",
    "register",
    "verdict_line",
]


@dataclass(frozen=True)
class Context:
    result: RunResult
    app: str
    phase: str
    figures: Figures


@dataclass(frozen=True)
class Measurement:
    value: float | None  # None: no data to judge by (the metric is absent)
    detail: str = ""


@dataclass(frozen=True)
class Mechanism:
    name: str
    unit: str  # "%" means value is a fraction shown as a percentage
    measure: Callable[[Context], Measurement]
    doc: str


_REGISTRY: Registry[Mechanism] = Registry("mechanism")
_ALIASES: Registry[str] = Registry("mechanism")  # an older name -> the registered one


def register(name: str, *, unit: str, aliases: tuple[str, ...] = ()) -> Callable:
    def deco(fn: Callable[[Context], Measurement]) -> Callable[[Context], Measurement]:
        if name in _ALIASES:
            raise ValueError(f"mechanism {name!r} registered twice")
        _REGISTRY.add(name, Mechanism(name, unit, fn, (fn.__doc__ or "").strip()))
        for alias in aliases:
            _ALIASES.add(alias, name)
        return fn

    return deco


def names() -> list[str]:
    return _REGISTRY.names()


def get(name: str) -> Mechanism:
    return _REGISTRY.get_or_raise(_ALIASES.get(name, name))


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{_num(value * 100)}%"
    return f"{_num(value)} {unit}".rstrip()


def _num(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _expected_text(exp: Expectation, unit: str) -> str:
    parts = []
    if exp.min is not None:
        parts.append(f">= {format_value(exp.min, unit if unit == '%' else '').strip()}")
    if exp.max is not None:
        parts.append(f"<= {format_value(exp.max, unit if unit == '%' else '').strip()}")
    text = " and ".join(parts) or "reported only"
    return f"{text} in phase {exp.phase}" if exp.phase else text


def judge(exp: Expectation, result: RunResult, app: str) -> MechanismVerdict:
    mech = get(exp.mechanism)
    phase = exp.phase or ALL
    try:
        figs = figures(result, app, phase)
    except KeyError as exc:
        return MechanismVerdict(mechanism=exp.mechanism, expected=_expected_text(exp, mech.unit), unit=mech.unit,
                                verdict="FAIL", detail=str(exc.args[0]))
    m = mech.measure(Context(result, app, phase, figs))
    if m.value is None:
        verdict = "N/A"
    else:
        ok = (exp.min is None or m.value >= exp.min) and (exp.max is None or m.value <= exp.max)
        verdict = "PASS" if ok else "FAIL"
    return MechanismVerdict(
        mechanism=exp.mechanism,
        expected=_expected_text(exp, mech.unit),
        measured=m.value,
        unit=mech.unit,
        verdict=verdict,
        detail=m.detail,
    )


def verdict_line(v: MechanismVerdict) -> str:
    """``batching: 23.4 chunks per provider call (expected >= 16): PASS``"""
    return f"{v.mechanism}: {format_value(v.measured, v.unit)} (expected {v.expected}): {v.verdict}"


def evaluate(result: RunResult) -> dict[str, list[MechanismVerdict]]:
    """The mechanism checks' verdicts per app, from the one evaluator (``reports.checks``): the
    scenario's ``APP[.PHASE].mechanism.NAME`` checks (and a results.json's older ``expect:``)."""
    from ragchaos.reports.checks.evaluate import evaluate as judge_all
    from ragchaos.reports.checks.evaluate import mechanism_verdicts

    gate = result.gate if result.gate is not None else judge_all(result)
    return mechanism_verdicts(gate)
