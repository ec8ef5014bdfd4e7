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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ragchaos.reports.checks.spec import CheckSpec, legacy_checks
from ragchaos.scenarios.faultsteps import FaultStep, fault_problems, fault_window
from ragchaos.scenarios.loads import Load, PlannedStep
from ragchaos.scenarios.units import Duration, Fraction
from ragchaos.stack.targets import BUILTIN_TARGETS, Target

__all__ = [
    "KNOWN_APPS",
    "PHASE_KINDS",
    "CorpusSpec",
    "IngestBurst",
    "NoisyTenant",
    "Scenario",
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
    # this share of the burst's documents carry a chunk over the embedding model's input limit
    # (a pasted blob, ~10,000 tokens): poison the provider refuses with its 400 (issue 20)
    poison_share: Fraction = 0.0


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
    # services beyond (or instead of) ours: name -> how to reach it and speak to it (ragchaos.stack.targets)
    targets: dict[str, Target] = Field(default_factory=dict)
    faults: list[FaultStep] = Field(default_factory=list)
    # what must hold after the run: one model, one evaluator (ragchaos/reports/checks)
    checks: list[CheckSpec] = Field(default_factory=list)
    # what the older keys (gate:, expect:, steady-state checks) were converted from, one line each
    _deprecations: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _older_check_keys(cls, data: Any, handler: Any) -> Any:
        """``gate:``, ``expect:`` and the steady-state ``checks:`` form still load, as checks of
        the one model; ``deprecations`` says what to write instead."""
        notes: list[str] = []
        if isinstance(data, dict) and ({"gate", "expect"} & set(data) or any(
                isinstance(c, dict) and "check" not in c and "phase" in c for c in data.get("checks") or [])):
            data = dict(data)
            data["checks"], notes = legacy_checks(data)
            data.pop("gate", None)
            data.pop("expect", None)
        model = handler(data)
        if notes:
            model._deprecations = notes
        return model

    @property
    def deprecations(self) -> list[str]:
        return list(self._deprecations)

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
        for i, spec in enumerate(self.checks):
            out += [(("checks", i, *path), msg) for path, msg in _check_problems(spec, self, phases)]
        for app in self.app_env:
            if app not in known:
                out.append((("app_env", app), f"unknown app {app!r}"))
        out += _provider_problems(self.provider)
        return out

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
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
                 f"  faults: {len(self.faults)}; checks: {len(self.checks)}"]
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


def _check_problems(spec: CheckSpec, scenario: Scenario, phases: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
    """A check's expression against the grammar, and its names against this scenario."""
    from ragchaos.reports.checks.grammar import ALL, BASELINE, CheckError, closest, parse_check
    from ragchaos.reports.checks.spec import MECHANISM_SWITCHES

    try:
        check = parse_check(spec.check)
    except CheckError as exc:
        return [((), str(exc))]
    out: list[tuple[tuple[str | int, ...], str]] = []
    apps = set(scenario.known_apps)
    if check.app != "*" and check.app not in apps:
        out.append(((), f"unknown app {check.app!r}{closest(check.app, apps)} (apps: {', '.join(sorted(apps))})"))
    if check.phase != ALL and not _known_phase(check.phase, phases):
        out.append(((), f"unknown phase {check.phase!r}{closest(check.phase, phases)} "
                        f"(phases: {', '.join(sorted(phases))})"))
    other = check.other_app
    if other is not None and other != BASELINE and other not in apps and not _known_phase(other, phases):
        out.append(((), f"{other!r} is neither an app nor a phase{closest(other, apps | phases)}"))
    for name in spec.requires:
        if name not in MECHANISM_SWITCHES:
            out.append((("requires",), f"unknown mechanism {name!r}{closest(name, MECHANISM_SWITCHES)} "
                                       f"(switches: {', '.join(MECHANISM_SWITCHES)})"))
    return out
