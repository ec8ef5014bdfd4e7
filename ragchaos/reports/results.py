"""The schema of ``results.json``: the machine-readable truth of one run (``schema_version`` 1).

The runner writes it through these models and every report, the gate and ``compare`` read it
back through them, so a figure in a report can always be recomputed: each latency ``Summary``
carries its encoded HDR histogram (``hdr``), which merges losslessly.

Shape (see docs/contracts.md "results.json")::

    RunResult
      scenario: ScenarioInfo    name, seed, load model, SLOs, mechanism expectations, gate exprs
      run: RunInfo              timestamps (epoch s), versions, workers, app variants
      phases: [Phase]           steady / fault / recovery / spike / warmup, seconds from run start
      faults: [FaultRecord]     what the timeline applied and when
      apps: {app: AppResult}
        phases: {phase: PhaseResult}
          client: ClientStats   requests, ok, errors by class, latency (response/service/ttft),
                                by_kind {"query": KindStats, "ingest": KindStats}
          stages: {stage: Summary}          the app's own /_stats/hdr per stage, and
                                            proxy.<dependency>.<endpoint> as the fault proxy timed them
          counters: {'name{l="v"}': delta}   the app's /metrics deltas over the phase (none: the naive app)
          provider: {endpoint: ProviderEndpointStats}   /_stats deltas for this app's key
        intervals: [Interval]   1 s buckets (seconds from run start) per kind
        counter_samples: [CounterSample]   optional /metrics samples over time (breaker timeline)
        correctness: Correctness | None
        mechanisms: [MechanismVerdict]
        provider_attempts: {phase|"all": ProviderAttempts}   the provider's count per answered query
      gate: GateResult | None
      ablation: Ablation | None   run --ablate: each mechanism switched off vs the full app

Times: ``*_s`` are seconds from ``run.started_at`` unless named ``*_at`` (epoch seconds).
Latencies: integer microseconds (``*_us``). Error classes: ``ERROR_CLASSES``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.checks.spec import CheckSpec

__all__ = [
    "Ablation",
    "AblationEffect",
    "AblationRow",
    "ERROR_CLASSES",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "STATUS_CLASSES",
    "AppResult",
    "ClientStats",
    "Correctness",
    "CounterSample",
    "DependencyCalls",
    "EndpointCalls",
    "Expectation",
    "FaultReach",
    "FaultRecord",
    "GateCheck",
    "GateResult",
    "Interval",
    "KindStats",
    "Latency",
    "MechanismVerdict",
    "Phase",
    "PhaseResult",
    "ProviderEndpointStats",
    "ProxyCallsInfo",
    "ResultsError",
    "RunInfo",
    "RunResult",
    "ScenarioInfo",
    "Summary",
    "load_results",
]

SCHEMA_VERSION: Final = 1

# error classes a client request can end in (ok is not an error); see reports.recorder.classify_*
ERROR_CLASSES = ("429", "5xx", "timeout", "reset", "shed", "quota", "other")
OUTCOMES = ("ok", *ERROR_CLASSES)


class ResultsError(ValueError):
    """A results.json that cannot be read: the message names the file and the problem."""


class _Model(BaseModel):
    # unknown fields are kept, so a newer writer's extras survive a read-modify-write
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Summary(_Model):
    """Percentiles of one HDR histogram plus the histogram itself (encoded), in microseconds."""

    count: int = 0
    p50_us: int = 0
    p90_us: int = 0
    p99_us: int = 0
    p999_us: int = 0
    max_us: int = 0
    mean_us: float = 0.0
    clamped: int = 0
    hdr: str | None = None

    @classmethod
    def of(cls, hist: Histogram) -> Summary:
        ps = hist.percentiles_us([50.0, 90.0, 99.0, 99.9])
        return cls(
            count=hist.count,
            p50_us=ps[50.0],
            p90_us=ps[90.0],
            p99_us=ps[99.0],
            p999_us=ps[99.9],
            max_us=hist.max_us,
            mean_us=round(hist.mean_us, 1),
            clamped=hist.clamped,
            hdr=hist.encode() if hist.count else None,
        )

    def histogram(self) -> Histogram:
        """The encoded histogram back (an empty one if there was none)."""
        if not self.hdr:
            return Histogram()
        h = Histogram.decode(self.hdr)
        h.clamped = self.clamped
        return h

    def percentile_us(self, p: float) -> int:
        known = {50.0: self.p50_us, 90.0: self.p90_us, 99.0: self.p99_us, 99.9: self.p999_us, 100.0: self.max_us}
        if float(p) in known:
            return known[float(p)]
        return self.histogram().percentile_us(p)


def _errors_dict(value: Any) -> dict[str, int]:
    errors = {k: 0 for k in ERROR_CLASSES}
    for k, v in (value or {}).items():
        if k not in errors:
            raise ValueError(f"unknown error class {k!r}; expected one of {', '.join(ERROR_CLASSES)}")
        errors[k] = int(v)
    return errors


class Latency(_Model):
    """``response_time`` is measured from the intended send (open model: coordinated omission
    corrected); ``service_time`` from the actual send. In a closed-model run they are equal."""

    response_time: Summary = Field(default_factory=Summary)
    service_time: Summary = Field(default_factory=Summary)
    ttft: Summary | None = None
    # response time of ok answers only: goodput within an SLO is counted from it
    ok_response_time: Summary | None = None


class KindStats(_Model):
    """``requests`` were sent and got an outcome; ``dropped`` arrivals of the open model's
    schedule were never sent (the load generator had ``max_in_flight`` outstanding): failures
    of the run, not of the app, counted apart; ``late`` of the requests were sent more than
    50 ms after their intended time (the generator fell behind its schedule)."""

    requests: int = 0
    ok: int = 0
    dropped: int = 0
    late: int = 0
    errors: dict[str, int] = Field(default_factory=lambda: _errors_dict(None))
    latency: Latency = Field(default_factory=Latency)

    @field_validator("errors", mode="before")
    @classmethod
    def _known_error_classes(cls, value: Any) -> dict[str, int]:
        return _errors_dict(value)


class ClientStats(KindStats):
    """What the load generator saw for one app in one phase; the top level sums every kind."""

    by_kind: dict[str, KindStats] = Field(default_factory=dict)


class ProviderEndpointStats(_Model):
    requests: int = 0
    inputs: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    rate_limited: int = 0
    faults_injected: int = 0
    retries_seen: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    service_time: dict[str, Any] | None = None  # {"count", "hdr"} as the provider reports it


STATUS_CLASSES = ("2xx", "3xx", "4xx", "429", "5xx")


class EndpointCalls(_Model):
    """One dependency endpoint as the fault proxy saw it in one phase (calls placed by start).

    ``duration`` holds the calls that got a complete answer below 400; every other call (an error
    status, no answer, half an answer) is in ``error_duration``, counted apart."""

    attempts: int = 0  # every request the proxy carried: a retry is an attempt of its own
    retries: int = 0  # attempts sent with x-stainless-retry-count > 0 (the openai SDK's retries)
    status: dict[str, int] = Field(default_factory=dict)  # STATUS_CLASSES (429 apart from 4xx)
    no_response: int = 0  # the connection closed before a complete answer
    duration: Summary = Field(default_factory=Summary)
    error_duration: Summary = Field(default_factory=Summary)


class DependencyCalls(_Model):
    """Everything one of an app's dependencies carried in one phase, at its fault proxy."""

    proxy: str
    connections: int = 0  # connections opened in the phase
    refused: int = 0  # connections the upstream refused
    calls: int = 0  # HTTP calls and other-protocol exchanges
    endpoints: dict[str, EndpointCalls] = Field(default_factory=dict)


class PhaseResult(_Model):
    client: ClientStats = Field(default_factory=ClientStats)
    stages: dict[str, Summary] = Field(default_factory=dict)
    counters: dict[str, float] = Field(default_factory=dict)
    provider: dict[str, ProviderEndpointStats] = Field(default_factory=dict)
    # per dependency of the app, at its fault proxy (the built-in proxy only; see run.proxy_calls)
    dependencies: dict[str, DependencyCalls] = Field(default_factory=dict)
    # spans of a stage that ended with status ERROR: counted here, not in the stage's histogram
    stage_errors: dict[str, int] = Field(default_factory=dict)
    # every scheduled arrival in one of: ok (a full answer), degraded (a fallback served as a 200;
    # null when the app does not report fallbacks), error, dropped (never sent); written by
    # reports.build.finalize from the figures above (reports.analysis.outcome_counts)
    outcomes: dict[str, int | None] | None = None


class Interval(_Model):
    """One second of one kind of request, by completion time; ``t_s`` from run start."""

    t_s: float
    kind: str = "query"
    requests: int = 0
    ok: int = 0
    errors: int = 0
    p50_us: int = 0
    p99_us: int = 0
    hdr: str | None = None  # response-time histogram of the second (2 significant figures)


class CounterSample(_Model):
    t_s: float
    counters: dict[str, float] = Field(default_factory=dict)


class Correctness(_Model):
    """Retrieval correctness: answered queries whose known source document was in the top k."""

    scored: int = 0
    hit_at_k: int = 0
    k: int | None = None

    @property
    def ratio(self) -> float | None:
        return self.hit_at_k / self.scored if self.scored else None


class MechanismVerdict(_Model):
    mechanism: str
    expected: str = ""
    measured: float | None = None
    unit: str = ""
    verdict: Literal["PASS", "FAIL", "N/A"] = "N/A"
    detail: str = ""


class ProviderAttempts(_Model):
    """An app's requests as the provider counted them for its key in one phase, per answered
    query: a retry storm, if there is one, is ``per_answer`` rising above the healthy figure."""

    answered: int = 0  # queries answered ok (the divisor)
    attempts: int = 0  # every request the provider received from the app, retries and ingestion included
    retries: int = 0  # of them, sent with the openai SDK's x-stainless-retry-count > 0
    rate_limited: int = 0  # answered 429
    per_answer: float | None = None  # attempts / answered; None with no answers


class AppResult(_Model):
    phases: dict[str, PhaseResult] = Field(default_factory=dict)
    # phase (and "all") -> the provider's own counts per answer (written by reports.build.finalize)
    provider_attempts: dict[str, ProviderAttempts] = Field(default_factory=dict)
    intervals: list[Interval] = Field(default_factory=list)
    counter_samples: list[CounterSample] = Field(default_factory=list)
    correctness: Correctness | None = None
    mechanisms: list[MechanismVerdict] = Field(default_factory=list)
    # mechanisms the app reported switched off (GET /_stats/mechanisms); None: it does not say
    mechanisms_off: list[str] | None = None


def _number_or_percent(value: Any) -> Any:
    """``16`` stays 16; ``"30%"`` becomes 0.3 (ratio mechanisms are measured as fractions)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number or a percentage like '30%'") from None
    return value


class Expectation(_Model):
    """``{mechanism: batching, min: 16}``: the scenario's claim about one mechanism of one app.
    ``min``/``max`` are numbers in the mechanism's unit; ratios also take ``"30%"``."""

    mechanism: str
    min: Annotated[float | None, BeforeValidator(_number_or_percent)] = None
    max: Annotated[float | None, BeforeValidator(_number_or_percent)] = None
    phase: str | None = None  # None: the mechanism's own default (usually all phases together)


class ScenarioInfo(_Model):
    name: str
    description: str = ""
    seed: int | None = None
    file: str | None = None
    duration_s: float | None = None
    load_model: Literal["closed", "open"] = "closed"
    # per request kind, the latency an ok answer must meet to count as goodput, e.g. {"query": 2000}
    slo_ms: dict[str, float] = Field(default_factory=dict)
    # the scenario's checks (reports.checks); ``expect`` and ``gate`` are read from older results
    checks: list[CheckSpec] = Field(default_factory=list)
    expect: dict[str, list[Expectation]] = Field(default_factory=dict)
    gate: list[str] = Field(default_factory=list)


class ProxyCallsInfo(_Model):
    """Whether the dependencies' calls were timed at the fault proxy, and how completely."""

    measured: bool
    note: str = ""  # why not, when not measured
    lost: int = 0  # records that left the proxy's ring before the run read them
    unfinished: int = 0  # calls still waiting for an answer when the run ended (not counted)


class RunInfo(_Model):
    started_at: float
    ended_at: float
    versions: dict[str, str] = Field(default_factory=dict)
    toxiproxy: Literal["builtin", "real"] | None = None
    workers: int = 1
    quick: bool = False
    proxy_calls: ProxyCallsInfo | None = None
    # stopped by Ctrl-C or SIGTERM: the figures cover only the load up to interrupted_at_s
    # (seconds from the load's start); the run's validity check fails on it
    interrupted: bool = False
    interrupted_at_s: float | None = None
    # what the run changed from the defaults, listed in the report's header: the provider's
    # configuration (the scenario's ``provider:``) and each app's extra environment (``app_env``);
    # the mechanisms each app had switched off are ``apps.<app>.mechanisms_off``
    provider_overrides: dict[str, Any] = Field(default_factory=dict)
    app_env: dict[str, dict[str, str]] = Field(default_factory=dict)
    # app -> the variant it ran as, when not its default (e.g. {"naive": "no-retries"})
    variants: dict[str, str] = Field(default_factory=dict)


class Phase(_Model):
    name: str
    kind: Literal["steady", "fault", "recovery", "spike", "warmup"] = "steady"
    start_s: float
    end_s: float


class FaultReach(_Model):
    """Whether a fault reached its target (``scenarios.reach``): "missed" fails the run."""

    verdict: Literal["reached", "missed", "not judged"]
    calls: int = 0  # calls of the target through the fault's proxy in the evidence window
    connections: int = 0
    requests_served: int = 0  # the target's answers (any outcome) in the fault window
    provider_requests: int = 0  # the provider's count of the target's key (provider faults)
    message: str = ""


class FaultRecord(_Model):
    name: str
    target: str | None = None
    dependency: str | None = None
    what: str = ""
    applied_at_s: float | None = None
    reverted_at_s: float | None = None
    error: str | None = None
    reach: FaultReach | None = None


VerdictStatus = Literal["pass", "fail", "warn", "insufficient"]


class GateCheck(_Model):
    """One verdict of the one evaluator (``reports.checks``). ``passed`` is False only for a
    failed check of severity ``fail``; a warning and "insufficient data" pass, and say so."""

    name: str
    expr: str = ""
    measured: str = ""
    passed: bool
    reason: str = ""
    status: VerdictStatus | None = None  # None: written before statuses existed (pass/fail by ``passed``)
    severity: Literal["fail", "warn"] = "fail"
    app: str | None = None
    metric: str | None = None
    n: int | None = None  # samples behind a percentile
    n_baseline: int | None = None
    value: float | None = None
    low: float | None = None  # confidence interval of the value (or of the ratio, against a baseline)
    high: float | None = None
    ratio: float | None = None  # candidate / baseline
    p_value: float | None = None  # Holm-adjusted, against a baseline
    resolution: float | None = None  # smallest increase detectable with 95% power (0.2 = +20%)
    detail: str = ""  # what the measurement says about itself (a mechanism's breakdown)

    @property
    def state(self) -> str:
        return self.status or ("pass" if self.passed else "fail")


class GateResult(_Model):
    passed: bool
    checks: list[GateCheck] = Field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(c.state == state for c in self.checks)


class AblationEffect(_Model):
    """One metric of one ablated copy against the full app: both values, the change and its
    95% interval (``kind`` "difference": ablated minus full, in the metric's unit; "ratio":
    ablated / full); None where the data do not allow one."""

    metric: str  # error_rate | degraded_share | goodput | p99 | provider_calls_per_answer
    kind: Literal["difference", "ratio"]
    full: float | None = None
    ablated: float | None = None
    change: float | None = None
    low: float | None = None
    high: float | None = None
    # the interval excludes "no change" (0 for a difference, 1 for a ratio)
    significant: bool = False


class AblationRow(_Model):
    mechanism: str
    app: str  # the copy of the full app with this mechanism switched off
    effects: list[AblationEffect] = Field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        """No metric moved beyond its interval: this run shows nothing this mechanism buys."""
        return bool(self.effects) and not any(e.significant for e in self.effects)


class Ablation(_Model):
    """``run --ablate``: which app is the full reference app, which copy lacks which mechanism
    (set by the runner), and the comparison (filled by ``reports.ablation``)."""

    full: str
    apps: dict[str, str]  # mechanism -> app
    phase: str = "all"
    confidence: float = 0.95
    wall_time_s: float | None = None
    rows: list[AblationRow] = Field(default_factory=list)


class RunResult(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    scenario: ScenarioInfo
    run: RunInfo
    phases: list[Phase] = Field(default_factory=list)
    faults: list[FaultRecord] = Field(default_factory=list)
    apps: dict[str, AppResult] = Field(default_factory=dict)
    gate: GateResult | None = None
    ablation: Ablation | None = None  # run --ablate only
    # derived figures memoised by reports.analysis (a loaded result is treated as read-only)
    _memo: dict[Any, Any] = PrivateAttr(default_factory=dict)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> RunResult:
        copy = super().model_copy(update=update, deep=deep)
        copy._memo = {}  # a copy is made to be changed: never reuse figures of the original
        return copy

    def forget(self) -> None:
        """Drop memoised figures after changing this result in place."""
        self._memo.clear()

    @property
    def duration_s(self) -> float:
        return max(0.0, self.run.ended_at - self.run.started_at)

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.model_dump_json(indent=1, exclude_none=False) + "\n")
        return path


def load_results(path: str | Path) -> RunResult:
    """Read a results.json (or a run folder holding one); errors name the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
    try:
        return RunResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ResultsError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None
