"""The scenario file: what one run does, validated whole before anything starts.

A scenario (YAML, documented in docs/scenarios.md) loads into ``Scenario``. Field types catch
shape mistakes (pydantic); ``Scenario.validate()`` then checks what spans fields (tenants that
exist, phases that are named, apps that are known) and returns every problem, not the first.
``plan()`` is pure: the ``--dry-run`` view of what the run would do and when.
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragchaos.scenarios.faultsteps import FaultStep, fault_problems, fault_window
from ragchaos.scenarios.loads import Load, PlannedStep
from ragchaos.scenarios.units import Duration, Fraction, Ratio, parse_duration
from ragchaos.stack.targets import BUILTIN_TARGETS, Target

__all__ = [
    "KNOWN_APPS",
    "PHASE_KINDS",
    "CorpusSpec",
    "Expectation",
    "IngestBurst",
    "NoisyTenant",
    "Scenario",
    "SteadyStateCheck",
    "Workload",
    "tenant_names",
]

KNOWN_APPS = ("naive", "reference")
PHASE_KINDS = ("steady", "fault", "recovery", "spike", "warmup")
# readable tenant names for reports; beyond these, tenant-N
_TENANT_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "soylent")


def tenant_names(n: int) -> list[str]:
    return [(_TENANT_NAMES[i] if i < len(_TENANT_NAMES) else f"tenant-{i}") for i in range(n)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusSpec(_Strict):
    tenants: int = Field(default=3, ge=1, le=50)
    documents_per_tenant: int = Field(default=40, ge=1, le=2000)
    words_per_document: int = Field(default=120, ge=20, le=5000)
    # the tenant-isolation corpus: identical documents and questions, one fact differs per tenant
    twins: bool = False

    @property
    def tenant_names(self) -> list[str]:
        return tenant_names(self.tenants)


class NoisyTenant(_Strict):
    """One tenant that sends ``share`` of all requests (the rest is split by the weights)."""

    tenant: str
    share: Fraction


class IngestBurst(_Strict):
    """A batch of new documents landing during the run: ``documents`` posts spread over ``over``."""

    at: Duration
    documents: int = Field(ge=1, le=5000)
    over: Duration = 2.0
    tenant: str | None = None  # None: spread over the tenants by weight


class Workload(_Strict):
    query_ratio: Fraction = Field(default=0.95, description="fraction of requests that are queries; the rest ingest")
    questions: int = Field(default=600, ge=1, le=100_000, description="distinct questions")
    zipf_s: float = Field(default=1.0, ge=0.0, le=4.0, description="Zipf exponent of question popularity")
    paraphrase_rate: Fraction = 0.2
    negation_rate: Fraction = 0.05
    top_k: int = Field(default=4, ge=1, le=50)
    stream: bool = False
    tenant_weights: dict[str, float] = Field(default_factory=dict, description="default: equal")
    noisy_tenant: NoisyTenant | None = None
    ingest_bursts: list[IngestBurst] = Field(default_factory=list)

    @field_validator("tenant_weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for k, v in value.items():
            if v < 0:
                raise ValueError(f"weight of tenant {k!r} is negative")
        return value


class SteadyStateCheck(_Strict):
    """A steady-state hypothesis for one phase: an absolute bound, or a tolerance against another phase.

    ``{phase: recovery, metric: p99, relative_to: steady, tolerance: 50%}`` holds when the
    recovery p99 is at most 1.5x the steady p99. ``at_least: 10`` with ``relative_to`` turns it
    round: the phase's value must be at least 10x the other's (a failure the scenario must
    reproduce, e.g. the naive app's spike p99). ``max``/``min`` of a latency metric are
    durations (``800ms``), of ``error_rate`` fractions (``1%``), of ``rps``/``goodput`` numbers.
    """

    phase: str
    metric: str = Field(description="error_rate | p50 | p90 | p99 | rps | goodput")
    app: str = "*"
    max: float | str | None = None
    min: float | str | None = None
    relative_to: str | None = None
    tolerance: Ratio | None = None
    at_least: float | None = Field(default=None, gt=0, description="with relative_to: at least this many times it")

    METRICS: tuple[str, ...] = ("error_rate", "p50", "p90", "p99", "rps", "goodput")

    def bound(self, value: float | str | None) -> float | None:
        """The bound in the metric's unit: seconds for latencies, a fraction for error_rate."""
        if value is None:
            return None
        if self.metric.startswith("p"):
            return parse_duration(value)
        if self.metric == "error_rate":
            from ragchaos.scenarios.units import parse_fraction

            return parse_fraction(value)
        return float(value)

    def problems(self) -> list[str]:
        out = []
        if self.metric not in self.METRICS:
            out.append(f"metric {self.metric!r} is not one of {', '.join(self.METRICS)}")
        if self.max is None and self.min is None and self.relative_to is None:
            out.append("give max, min, or relative_to with a tolerance")
        if self.relative_to is not None and self.tolerance is None and self.at_least is None:
            out.append("relative_to needs a tolerance (e.g. 50%) or at_least (e.g. 10)")
        if self.at_least is not None and self.relative_to is None:
            out.append("at_least needs relative_to (the phase it is a multiple of)")
        for side in ("max", "min"):
            try:
                self.bound(getattr(self, side))
            except ValueError as exc:
                out.append(f"{side}: {exc}")
        return out

    def describe(self) -> str:
        who = "every app" if self.app == "*" else self.app
        if self.relative_to and self.at_least is not None:
            return f"{self.phase}: {self.metric} at least {self.at_least:g}x {self.relative_to} ({who})"
        if self.relative_to:
            return f"{self.phase}: {self.metric} at most {1 + (self.tolerance or 0):g}x {self.relative_to} ({who})"
        parts = [f"<= {self.max}" if self.max is not None else "", f">= {self.min}" if self.min is not None else ""]
        return f"{self.phase}: {self.metric} {' and '.join(p for p in parts if p)} ({who})"


class Expectation(_Strict):
    """``{mechanism: batching, min: 16}``: a claim about one mechanism, judged by reports.mechanisms."""

    mechanism: str
    min: float | None = None
    max: float | None = None
    phase: str | None = None


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    seed: int = 1
    duration: Duration | None = Field(default=None, description="default: the load's total")
    apps: list[str] = Field(default_factory=lambda: list(KNOWN_APPS))
    warmup: Duration = Field(default=0.0, description="the first seconds, labelled warmup")
    request_timeout: Duration = 10.0
    quick_scale: float = Field(default=0.5, gt=0, le=1, description="--quick multiplies every time by this")
    corpus: CorpusSpec = Field(default_factory=CorpusSpec)
    workload: Workload = Field(default_factory=Workload)
    load: Load
    slo: dict[str, Duration] = Field(default_factory=dict, description="per request kind: latency of goodput")
    # app-level settings the stack passes through (e.g. RAGCHAOS_DISABLE), same for a fair comparison
    app_env: dict[str, dict[str, str]] = Field(default_factory=dict)
    # the provider's configuration (ragchaos/provider/config.py): the same budget for every app's key
    provider: dict[str, Any] = Field(default_factory=dict)
    # services beyond (or instead of) ours: name -> how to reach it and speak to it (ragchaos.targets)
    targets: dict[str, Target] = Field(default_factory=dict)
    faults: list[FaultStep] = Field(default_factory=list)
    checks: list[SteadyStateCheck] = Field(default_factory=list)
    expect: dict[str, list[Expectation]] = Field(default_factory=dict)
    gate: list[str] = Field(default_factory=list)

    # ---- derived -----------------------------------------------------------------------

    @property
    def total_s(self) -> float:
        return self.duration if self.duration is not None else self.load.total_s

    @property
    def load_model(self) -> str:
        return "open" if self.load.kind == "arrivals" else "closed"

    def target(self, app: str) -> Target:
        """How ``app`` is reached and spoken to: the scenario's own description, or ours."""
        return self.targets.get(app) or BUILTIN_TARGETS[app]

    def dependency_for(self, app: str, step: Any) -> str | None:
        """The name of ``app``'s dependency a fault step hits: the one it names, or the one
        dependency of the role it addresses (None: there is none, or more than one)."""
        target = self.target(app)
        if step.dependency is not None:
            return step.dependency if step.dependency in target.dependencies else None
        found = target.with_role(step.role)
        return found[0] if len(found) == 1 else None

    def dependency_problem(self, app: str, step: Any) -> str | None:
        if self.dependency_for(app, step) is not None:
            return None
        target = self.target(app)
        deps = ", ".join(f"{d} ({target.role_of(d)})" for d in target.dependencies) or "none"
        if step.dependency is not None:
            return f"{app} has no dependency {step.dependency!r} (its dependencies: {deps})"
        found = target.with_role(step.role)
        if found:
            return (f"{app} has {len(found)} dependencies with role {step.role!r} ({', '.join(found)}): "
                    "name the one to fault with dependency: instead of role:")
        return (f"{app} has no dependency with role {step.role!r} (its dependencies: {deps}); if one of "
                f"them is its {step.role.replace('_', ' ')}, say so in its target: "
                f"dependencies: {{NAME: {{upstream: ..., role: {step.role}}}}}")

    @property
    def known_apps(self) -> list[str]:
        return list(KNOWN_APPS) + [t for t in self.targets if t not in KNOWN_APPS]

    @property
    def tenants(self) -> list[str]:
        return self.corpus.tenant_names

    def tenant_weights(self) -> dict[str, float]:
        """Normalised share of requests per tenant, the noisy tenant included."""
        base = {t: float(self.workload.tenant_weights.get(t, 1.0 if not self.workload.tenant_weights else 0.0))
                for t in self.tenants}
        noisy = self.workload.noisy_tenant
        if noisy is not None and noisy.tenant in base:
            others = {t: w for t, w in base.items() if t != noisy.tenant}
            total = sum(others.values()) or 1.0
            out = {t: (1.0 - noisy.share) * w / total for t, w in others.items()}
            out[noisy.tenant] = noisy.share
            return out
        total = sum(base.values()) or 1.0
        return {t: w / total for t, w in base.items()}

    def phase_names(self) -> set[str]:
        names = {"steady", "fault", "recovery", "all"}
        if self.warmup > 0:
            names.add("warmup")
        names.update(p for *_, p in self.load.stage_bounds() if p)
        return names

    # ---- validation --------------------------------------------------------------------

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every cross-field problem as (path into the file, message)."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        known = self.known_apps
        for app in self.apps:
            if app not in known:
                out.append((("apps", self.apps.index(app)), f"unknown app {app!r}; known: {', '.join(known)} "
                                                            "(describe your own service under targets:)"))
        for name, target in self.targets.items():
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                out.append((("targets", name), "a target name is lower case letters, digits and _"))
            out += [(("targets", name, *p), m) for p, m in target.problems()]
        if not self.apps:
            out.append((("apps",), "name at least one app"))
        out += [(("load",), msg) for msg in self.load.validate_load()]
        if self.duration is not None and abs(self.duration - self.load.total_s) > 0.5:
            out.append((("duration",), f"duration is {self.duration:g}s but the load stages last "
                                       f"{self.load.total_s:g}s; make them agree (or drop duration)"))
        if self.warmup >= self.total_s:
            out.append((("warmup",), "the warmup is as long as the whole run"))
        tenants = set(self.tenants)
        for t in self.workload.tenant_weights:
            if t not in tenants:
                out.append((("workload", "tenant_weights", t),
                            f"unknown tenant {t!r}; the corpus has {', '.join(self.tenants)}"))
        if self.workload.tenant_weights and not any(self.workload.tenant_weights.values()):
            out.append((("workload", "tenant_weights"), "every weight is 0"))
        noisy = self.workload.noisy_tenant
        if noisy is not None and noisy.tenant not in tenants:
            out.append((("workload", "noisy_tenant", "tenant"),
                        f"unknown tenant {noisy.tenant!r}; the corpus has {', '.join(self.tenants)}"))
        for i, burst in enumerate(self.workload.ingest_bursts):
            if burst.tenant is not None and burst.tenant not in tenants:
                out.append((("workload", "ingest_bursts", i, "tenant"), f"unknown tenant {burst.tenant!r}"))
            if burst.at + burst.over > self.total_s:
                out.append((("workload", "ingest_bursts", i, "at"), "the burst ends after the run"))
        for i, step in enumerate(self.faults):
            for path, msg in fault_problems(step, self.apps, self.total_s):
                out.append((("faults", i, *path), msg))
            for app in step.targets(self.apps):
                if app in known:
                    # its proxy would not exist: the fault could never reach this target
                    problem = self.dependency_problem(app, step)
                    if problem:
                        out.append((("faults", i, "role" if step.role else "dependency"), problem))
        phases = self.phase_names()
        for i, check in enumerate(self.checks):
            for msg in check.problems():
                out.append((("checks", i), msg))
            for field in ("phase", "relative_to"):
                value = getattr(check, field)
                if value is not None and not _known_phase(value, phases):
                    out.append((("checks", i, field), f"unknown phase {value!r}; phases: {', '.join(sorted(phases))}"))
            if check.app != "*" and check.app not in self.apps:
                out.append((("checks", i, "app"), f"app {check.app!r} is not in this scenario's apps"))
        for app, expectations in self.expect.items():
            if app not in known:
                out.append((("expect", app), f"unknown app {app!r}; known: {', '.join(known)}"))
            for i, exp in enumerate(expectations):
                out += [(("expect", app, i, *p), m) for p, m in _mechanism_problems(exp)]
                if exp.phase is not None and not _known_phase(exp.phase, phases):
                    out.append((("expect", app, i, "phase"), f"unknown phase {exp.phase!r}"))
        for i, expr in enumerate(self.gate):
            msg = _gate_problem(expr)
            if msg:
                out.append((("gate", i), msg))
        for app in self.app_env:
            if app not in known:
                out.append((("app_env", app), f"unknown app {app!r}"))
        out += _provider_problems(self.provider)
        return out

    def validate(self) -> list[str]:  # type: ignore[override]
        return [f"{'.'.join(str(p) for p in path)}: {msg}" for path, msg in self.problems()]

    # ---- describing and planning -------------------------------------------------------

    def describe(self) -> str:
        first = (self.description.strip().splitlines() or [""])[0]
        lines = [f"{self.name}: {first}" if first else self.name,
                 f"  apps: {', '.join(self.apps)}; seed {self.seed}; {self.total_s:g}s",
                 f"  corpus: {self.corpus.tenants} tenants x {self.corpus.documents_per_tenant} documents",
                 f"  workload: {self.workload.query_ratio:.0%} queries over {self.workload.questions} questions "
                 f"(Zipf s={self.workload.zipf_s:g}), {self.workload.paraphrase_rate:.0%} paraphrased, "
                 f"{self.workload.negation_rate:.0%} negated",
                 f"  load: {self.load.describe()}",
                 f"  faults: {len(self.faults)}; checks: {len(self.checks)}; "
                 f"expectations: {sum(len(v) for v in self.expect.values())}; gate: {len(self.gate)}"]
        return "\n".join(lines)

    def plan(self) -> list[PlannedStep]:
        """The load stages, the ingest bursts and the faults, in time order (pure)."""
        steps = list(self.load.plan())
        for b in self.workload.ingest_bursts:
            steps.append(PlannedStep(b.at, b.at + b.over, f"ingest burst: {b.documents} documents"
                                     f"{' for ' + b.tenant if b.tenant else ''}"))
        for step in self.faults:
            start, end = fault_window(step, self.total_s)
            steps.append(PlannedStep(start, end, f"fault: {step.describe()}"))
        return sorted(steps, key=lambda s: (s.start_s, s.end_s))

    def scaled(self, factor: float) -> Scenario:
        """The same scenario with every time multiplied by ``factor`` (``--quick``)."""
        from ragchaos.scenarios.faultsteps import scale_fault

        data = self.model_dump()
        load = data["load"]
        for stage in load["stages"]:
            stage["duration"] *= factor
        if load.get("think_time"):
            load["think_time"] *= factor
        if data.get("duration") is not None:
            data["duration"] *= factor
        data["warmup"] *= factor
        for b in data["workload"]["ingest_bursts"]:
            b["at"] *= factor
            b["over"] *= factor
        data["faults"] = [scale_fault(f, factor) for f in self.faults]
        return Scenario.model_validate(data)

    def with_seed(self, seed: int) -> Scenario:
        return self.model_copy(update={"seed": seed})

    def rng(self, purpose: str) -> random.Random:
        """A generator for one purpose, the same in every process for the same seed."""
        return random.Random(f"{self.seed}:{purpose}")


def _known_phase(name: str, phases: set[str]) -> bool:
    """A declared phase, or the n-th fault/recovery period (``fault-2``, ``recovery-3``)."""
    return name in phases or re.fullmatch(r"(fault|recovery)-[2-9][0-9]*", name) is not None


def _provider_problems(config: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    if not config:
        return []
    try:
        from ragchaos.provider.config import ProviderConfig
    except ImportError:
        return []
    from pydantic import ValidationError

    try:
        ProviderConfig.model_validate(config)
    except ValidationError as exc:
        return [(("provider", *err["loc"]), str(err["msg"])) for err in exc.errors()]
    return []


def _mechanism_problems(exp: Expectation) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    if exp.min is None and exp.max is None:
        out.append(((), "an expectation needs min or max"))
    from ragchaos.reports.mechanisms import get  # the reports part judges mechanisms; it owns the names

    try:
        get(exp.mechanism)
    except KeyError as exc:
        out.append((("mechanism",), str(exc.args[0])))
    return out


def _gate_problem(expr: str) -> str | None:
    from ragchaos.reports.gate import GateError, parse_check  # the reports part owns the gate grammar

    try:
        parse_check(expr)
    except GateError as exc:
        return str(exc)
    return None
