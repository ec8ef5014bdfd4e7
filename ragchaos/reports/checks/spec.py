"""``CheckSpec``: one entry of a scenario's ``checks:`` list, the only place checks are written.

An entry is a check expression (grammar in ``checks.grammar``), or a mapping that adds what the
expression cannot say::

    checks:
      - reference.steady.error_rate <= 1%
      - {check: reference.fault.error_rate <= 10%, requires: [retries, cache]}
      - {check: naive.spike.response.p99 >= 10x steady, severity: warn}

``severity: warn`` reports a failure without failing the run; ``requires`` names reference-app
mechanisms (``RAGCHAOS_DISABLE`` names) the check relies on: with one of them switched off the
check fails, whatever the figure says, since it would pass for the wrong reason.

The three older dialects (``gate:`` expressions, steady-state ``checks:`` mappings with
``phase/metric/max/relative_to``, ``expect:`` mechanism claims) are converted by
``legacy_checks`` into this form, each with the line to write instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MECHANISM_SWITCHES", "CheckSpec", "legacy_checks", "steady_state_expression"]

# the reference app's RAGCHAOS_DISABLE names (reference_app/switches.py; the harness does not
# import the app, tests/reports/test_checks.py keeps the two lists equal)
MECHANISM_SWITCHES = (
    "pooling", "batching", "bulk_upsert", "queue", "cache", "semantic_cache", "embedding_cache",
    "response_cache", "retrieval_cache", "cache_revalidation", "retries", "breaker", "bulkhead",
    "deadline", "finish_late", "pacing", "quotas", "admission", "gc_freeze",
)


class CheckSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str = Field(description="APP[.PHASE].METRIC OP BOUND, e.g. reference.error_rate < 1%")
    severity: Literal["fail", "warn"] = "fail"
    requires: list[str] = Field(default_factory=list, description="mechanisms that must be on")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"check": value}
        if isinstance(value, dict) and "check" not in value and {"phase", "metric"} <= set(value):
            # the older steady-state form, e.g. in a results.json written before this model
            return {"check": steady_state_expression(value)}
        return value

    def to_yaml(self) -> str | dict[str, Any]:
        """The shortest way to write it: the bare expression when nothing else is set."""
        if self.severity == "fail" and not self.requires:
            return self.check
        return self.model_dump(exclude_defaults=True)


def _duration_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    seconds = float(value)
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _fraction_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return f"{float(value) * 100:g}%"


def _ratio_number(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100.0
    return float(value)


_STEADY_METRICS = {"p50": "response.p50", "p90": "response.p90", "p99": "response.p99",
                   "rps": "throughput", "goodput": "goodput", "error_rate": "error_rate"}


def steady_state_expression(item: dict[str, Any]) -> str:
    """``{phase: steady, metric: error_rate, max: 1%, app: reference}`` ->
    ``reference.steady.error_rate <= 1%`` (one expression; two bounds become ``; ``-joined)."""
    metric = _STEADY_METRICS.get(str(item.get("metric")))
    if metric is None:
        raise ValueError(f"metric {item.get('metric')!r} is not one of {', '.join(_STEADY_METRICS)}")
    app = str(item.get("app", "*"))
    path = f"{app}.{item['phase']}.{metric}"
    fmt = _fraction_text if metric == "error_rate" else (_duration_text if metric.startswith("response") else str)
    parts = []
    if item.get("max") is not None:
        parts.append(f"{path} <= {fmt(item['max'])}")
    if item.get("min") is not None:
        parts.append(f"{path} >= {fmt(item['min'])}")
    rel = item.get("relative_to")
    if rel is not None:
        if item.get("at_least") is not None:
            parts.append(f"{path} >= {float(item['at_least']):g}x {rel}")
        elif item.get("tolerance") is not None:
            if metric == "error_rate":
                raise ValueError("an error-rate tolerance against another phase has no equivalent; "
                                 "write an absolute bound, e.g. error_rate <= 2%")
            tol = _ratio_number(item["tolerance"])
            if metric in ("throughput", "goodput"):
                parts.append(f"{path} >= {1 - tol:g}x {rel}")
            else:
                parts.append(f"{path} <= {1 + tol:g}x {rel}")
    if not parts:
        raise ValueError("give max, min, or relative_to with a tolerance")
    return "; ".join(parts)


def legacy_checks(data: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """The ``checks:`` list that replaces a file's older keys, and one message per converted
    entry saying what to write instead. ``data`` is the raw scenario mapping."""
    out: list[Any] = []
    notes: list[str] = []
    for i, item in enumerate(data.get("checks") or []):
        if isinstance(item, dict) and "check" not in item and "phase" in item and "metric" in item:
            try:
                exprs = steady_state_expression(item).split("; ")
            except ValueError as exc:
                out.append(item)  # left for the schema to refuse, with this message
                notes.append(f"checks.{i}: {exc}")
                continue
            out += exprs
            notes.append(f"checks.{i}: the steady-state form is deprecated; write "
                         + " and ".join(f"'- {e}'" for e in exprs))
        else:
            out.append(item)
    for app, exps in (data.get("expect") or {}).items():
        for i, exp in enumerate(exps or []):
            if not isinstance(exp, dict) or "mechanism" not in exp:
                continue
            phase = f".{exp['phase']}" if exp.get("phase") else ""
            exprs = []
            if exp.get("min") is not None:
                exprs.append(f"{app}{phase}.mechanism.{exp['mechanism']} >= {exp['min']:g}")
            if exp.get("max") is not None:
                exprs.append(f"{app}{phase}.mechanism.{exp['mechanism']} <= {exp['max']:g}")
            out += exprs
            notes.append(f"expect.{app}.{i}: 'expect:' is deprecated; under checks: write "
                         + " and ".join(f"'- {e}'" for e in exprs))
    for i, expr in enumerate(data.get("gate") or []):
        out.append(expr)
        notes.append(f"gate.{i}: 'gate:' is deprecated; move '- {expr}' under checks:")
    return out, notes
