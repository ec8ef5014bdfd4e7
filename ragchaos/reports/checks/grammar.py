"""The one grammar of a check: what a scenario's ``checks:`` and ``ragchaos gate --check`` say.

    check   := path OP bound
    path    := APP [ "." PHASE ] "." METRIC       APP "*" is every app of the run; no PHASE:
                                                 the whole run minus warm-up
    OP      := "<" | "<=" | ">" | ">=" | "==" | "!="
    bound   := NUMBER [ UNIT ]                   UNIT: us ms s m (latency), % (ratios)
             | NUMBER "x" APP                    that app's same metric (same phase), times NUMBER
             | NUMBER "x" PHASE                  this app's same metric in that phase
             | NUMBER "x" "baseline"             the baseline build's same metric: a two-sample
                                                 decision (latency percentiles only)
    METRIC  := STAGE "." STAT                    query.total.p99, ingest.freshness.p50
             | "proxy." DEPENDENCY "." ENDPOINT "." STAT   proxy.vectordb.query.p99 (at the fault proxy)
             | ("response" | "service") [ "." KIND ] "." STAT
             | "ttft." STAT
             | "error_rate" [ "." CLASS ]        CLASS one of 429 5xx timeout reset shed quota other
             | "throughput" | "goodput" | "requests" | "ok"
             | "cache_hit_ratio." LAYER | "hit_at_k"
             | "cost_per_answer" | "tokens_per_answer" | "provider_calls_per_answer"
             | "mechanism." NAME                 a mechanism's measured value
    STAT    := p50 | p90 | p99 | p99.9 | p999 | pN[.N] | max | mean | count

``parse_check`` refuses a malformed expression with ``CheckError`` naming it and, where it can,
the closest valid word ("15: did you mean 15%?", "unknown metric 'erorr_rate'; did you mean
error_rate?").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ragchaos.measure.stages import PROXY_STAGE_FAMILY, STAGES
from ragchaos.reports import mechanisms
from ragchaos.reports.results import ERROR_CLASSES

__all__ = [
    "ALL",
    "BASELINE",
    "OPS",
    "Check",
    "CheckError",
    "closest",
    "parse_check",
    "parse_fraction",
    "parse_latency",
    "percentile_of",
]

ALL = "all"
BASELINE = "baseline"


class CheckError(ValueError):
    """A check, option or baseline that cannot be used; the message names it."""


OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}
_CHECK = re.compile(r"^\s*([A-Za-z0-9_.*\-]+)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$")
_VALUE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)\s*(us|µs|ms|s|m|%)?$")
_RELATIVE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*x\s*([A-Za-z0-9_\-]+)$")
_STAT = re.compile(r"^(?:p([0-9]+(?:_[0-9]+)?)|max|mean|count)$")
TIME_UNITS = {"us": 1.0, "µs": 1.0, "ms": 1_000.0, "s": 1_000_000.0, "m": 60_000_000.0}
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
STAGE_FAMILIES = {s.split(".")[0] for s in STAGES}
METRIC_HEADS = STAGE_FAMILIES | {"response", "service", "ttft", "error_rate", "cache_hit_ratio", "mechanism",
                                  PROXY_STAGE_FAMILY} | set(_SCALAR)
STATS_SPELLED = ("p50", "p90", "p99", "p99.9", "max", "mean", "count")


def closest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the nearest choice, or "" when none is near."""
    match = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


@dataclass(frozen=True)
class Check:
    """One parsed check. ``threshold`` is absolute (latency in us, a ratio as a fraction);
    otherwise ``factor`` times the same metric of ``other_app``, of ``other_phase``, or of the
    baseline build (``other_app == BASELINE``)."""

    expr: str
    app: str  # "*": every app of the run
    phase: str  # ALL for the whole run
    metric: tuple[str, ...]
    kind: str  # latency | ratio | rate | count | usd | number
    op: str
    threshold: float | None = None
    factor: float | None = None
    other_app: str | None = None
    other_phase: str | None = None

    @property
    def metric_name(self) -> str:
        return ".".join(self.metric).replace("_", ".") if self.metric[-1].startswith("p") else ".".join(self.metric)

    def path_for(self, app: str) -> str:
        mid = "" if self.phase == ALL else f".{self.phase}"
        return f"{app}{mid}." + ".".join(self.metric)

    @property
    def path(self) -> str:
        return self.path_for(self.app)

    @property
    def percentile(self) -> float | None:
        """0.99 for a p99 metric, None for anything else."""
        p = percentile_of(self.metric[-1])
        return None if p is None or self.kind != "latency" else p / 100.0

    @property
    def against_baseline(self) -> bool:
        return self.other_app == BASELINE


def percentile_of(stat: str) -> float | None:
    m = _STAT.match(stat)
    if not m or not m.group(1):
        return None
    text = m.group(1).replace("_", ".")
    return 99.9 if text == "999" else float(text)


def _metric_kind(metric: list[str], fail: Callable[[str], CheckError]) -> str:
    head = metric[0]
    stat_hint = f"; STAT is one of {', '.join(STATS_SPELLED)}"
    if head == PROXY_STAGE_FAMILY:  # a dependency's calls timed at the fault proxy
        if len(metric) != 4 or not _STAT.match(metric[3]):
            raise fail("a call timed at the fault proxy is proxy.DEPENDENCY.ENDPOINT.STAT, "
                       f"e.g. proxy.vectordb.query.p99{stat_hint}")
        return "latency"
    if head in STAGE_FAMILIES:
        names = sorted(s.split(".", 1)[1] for s in STAGES if s.startswith(head + "."))
        if len(metric) == 3 and metric[1] not in names:
            raise fail(f"unknown stage {head}.{metric[1]}{closest(metric[1], names)} (stages: {', '.join(names)})")
        if len(metric) != 3 or not _STAT.match(metric[2]):
            raise fail(f"a stage metric is STAGE.STAT, e.g. {head}.total.p99{stat_hint}")
        return "latency"
    if head in ("response", "service"):
        if len(metric) not in (2, 3) or not _STAT.match(metric[-1]):
            raise fail(f"write {head}.STAT or {head}.KIND.STAT, e.g. {head}.query.p99{stat_hint}")
        return "latency"
    if head == "ttft":
        if len(metric) != 2 or not _STAT.match(metric[1]):
            raise fail(f"write ttft.STAT, e.g. ttft.p99{stat_hint}")
        return "latency"
    if head == "error_rate":
        if len(metric) == 2 and metric[1] not in ERROR_CLASSES:
            raise fail(f"unknown error class {metric[1]!r}{closest(metric[1], ERROR_CLASSES)} "
                       f"(classes: {', '.join(ERROR_CLASSES)})")
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
        except KeyError:
            raise fail(f"unknown mechanism {metric[1]!r}{closest(metric[1], mechanisms.names())} "
                       f"(known: {', '.join(mechanisms.names())})") from None
        return "ratio" if mech.unit == "%" else "number"
    if len(metric) != 1:
        raise fail(f"{head} takes no sub-metric")
    return _SCALAR[head]


def _unknown_metric(word: str, fail: Callable[[str], CheckError]) -> CheckError:
    return fail(f"unknown metric {word!r}{closest(word, METRIC_HEADS)} (metrics: {', '.join(sorted(METRIC_HEADS))})")


def parse_check(expr: str) -> Check:
    """Parse one check expression; ``CheckError`` says what is wrong and what to write."""

    def fail(problem: str) -> CheckError:
        return CheckError(f"check {expr!r}: {problem}")

    if not isinstance(expr, str):
        raise CheckError(f"check {expr!r}: must be a string like 'reference.query.total.p99 < 800ms'")
    m = _CHECK.match(expr)
    if not m:
        raise fail("expected PATH OP VALUE, e.g. 'reference.query.total.p99 < 800ms'")
    path, op, value = m.groups()
    path = re.sub(r"\bp([0-9]+)\.([0-9]+)$", r"p\1_\2", path)  # p99.9 -> p99_9: "." separates parts
    parts = path.split(".")
    if len(parts) < 2 or not all(parts):
        raise fail("the path is APP[.PHASE].METRIC, e.g. reference.error_rate")
    app, rest = parts[0], parts[1:]
    phase = ALL
    if rest[0] not in METRIC_HEADS:
        if len(rest) < 2:
            raise _unknown_metric(rest[0], fail)
        phase, rest = rest[0], rest[1:]
        if rest[0] not in METRIC_HEADS:
            raise _unknown_metric(rest[0], fail)
    kind = _metric_kind(rest, fail)
    if kind == "latency" and rest[-1] == "count":
        kind = "count"

    rel = _RELATIVE.match(value)
    if rel:
        factor, name = float(rel.group(1)), rel.group(2)
        if name == BASELINE and (percentile_of(rest[-1]) is None or kind != "latency"):
            raise fail("'x baseline' compares latency percentiles (e.g. reference.response.query.p99 <= 1x baseline)")
        if name == BASELINE and op not in ("<", "<="):
            raise fail("against a baseline write <= (a regression is a candidate slower than its baseline)")
        return Check(expr, app, phase, tuple(rest), kind, op, None, factor, name)
    vm = _VALUE.match(value)
    if not vm:
        raise fail(f"bad value {value!r}; write a number with a unit (800ms, 2s, 1%) or 'N x APP|PHASE|baseline'")
    number, unit = float(vm.group(1)), vm.group(2)
    if kind == "latency":
        if unit not in TIME_UNITS:
            hint = f"; did you mean {vm.group(1)}ms?" if unit is None else ""
            raise fail(f"a latency needs a time unit (us, ms, s, m), got {value!r}{hint}")
        threshold = number * TIME_UNITS[unit]
    elif unit == "%":
        if kind != "ratio":
            raise fail(f"% applies to ratios (error_rate, cache_hit_ratio, hit_at_k), not {'.'.join(rest)}")
        threshold = number / 100.0
    elif unit is not None:
        raise fail(f"unit {unit!r} does not apply to {'.'.join(rest)}")
    elif kind == "ratio" and number > 1:
        raise fail(f"{vm.group(1)}: did you mean {vm.group(1)}%? (a ratio is a fraction, 0.05, or a percentage, 5%)")
    else:
        threshold = number
    return Check(expr, app, phase, tuple(rest), kind, op, threshold)


def parse_latency(text: str) -> float:
    """``"1ms"`` -> 1000.0 (microseconds)."""
    m = _VALUE.match(str(text).strip())
    if not m or m.group(2) not in TIME_UNITS:
        hint = f"; did you mean {m.group(1)}ms?" if m and m.group(2) is None else ""
        raise CheckError(f"{text!r} is not a duration; write e.g. 500us, 2ms, 1s{hint}")
    return float(m.group(1)) * TIME_UNITS[m.group(2)]


def parse_fraction(text: str, *, what: str = "value") -> float:
    """``"10%"`` -> 0.1. A bare number above 1 is refused ("15: did you mean 15%?"); a bare
    fraction (0.1) is accepted."""
    t = str(text).strip()
    try:
        value = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise CheckError(f"{what} {text!r} is not a percentage; write e.g. 10%") from None
    if not t.endswith("%") and value > 1:
        raise CheckError(f"{what} {t}: did you mean {t}%?")
    if value < 0:
        raise CheckError(f"{what} {text!r} cannot be negative")
    return value
