"""Figures per app and phase, computed from a ``RunResult`` (pure functions, no I/O).

``figures(result, app, phase)`` returns a ``Figures``; ``phase=ALL`` merges every phase except
warm-up (histograms add exactly, counters and provider stats sum). Definitions:

- latency: client response time (from the intended send; equals service time in closed-model
  runs), over every request that got an outcome, errors included.
- error rate: non-ok outcomes / requests, overall and per class (``ERROR_CLASSES``): the app's.
- dropped: open-model arrivals the load generator never sent (``max_in_flight`` outstanding);
  late: requests sent more than 50 ms after their intended time. Both are failures of the run,
  not the app's: ``failure_rate`` = (app errors + dropped) / scheduled arrivals, and
  ``goodput_share`` = goodput answers / scheduled, so a run that could not deliver its load
  never reads as a clean one.
- throughput: requests completed per second of the phase.
- goodput: ok answers per second; when the scenario gives an SLO for a kind
  (``scenario.slo_ms``), only ok answers whose response time is within it count.
- cache hit ratio per layer: ``ragchaos_cache_requests_total{result="hit"}`` / all lookups.
- per answered query: provider calls (attempts), 429s, SDK retries, tokens and cost (from the
  provider's own ``/_stats`` for the app's key; ingest traffic in the same phase is included) /
  ok queries.
- batch size: ``ragchaos_embed_batch_size`` sum / count = inputs per provider embeddings call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.counters import Counters
from ragchaos.reports.results import (
    ERROR_CLASSES,
    ClientStats,
    DependencyCalls,
    EndpointCalls,
    KindStats,
    Latency,
    PhaseResult,
    ProviderEndpointStats,
    RunResult,
    Summary,
)

__all__ = ["ALL", "DEGRADED_KINDS", "Figures", "degraded_answers", "degraded_share", "figures", "merge_phases",
           "outcome_counts", "phase_duration_s", "phase_names", "phase_result"]

# fallbacks served as a 200 marked degraded (a stale cached answer, a retrieval-only answer);
# the third kind, "unavailable", is a 503 and already counted as an error
DEGRADED_KINDS = ("cache", "retrieval_only")


def degraded_answers(counters: dict[str, float]) -> int | None:
    """Fallback answers served with a 200 (``ragchaos_fallback_total`` kinds cache and
    retrieval_only); None if the app does not report its mechanisms."""
    c = Counters(counters)
    if not c.speaks():
        return None
    return int(sum(c.count("ragchaos_fallback_total", kind=k) or 0.0 for k in DEGRADED_KINDS))


def outcome_counts(pr: PhaseResult) -> dict[str, int | None]:
    """ok (not degraded) / degraded / error / dropped, plus late, of one phase's client figures."""
    c = pr.client
    degraded = degraded_answers(pr.counters)
    shown = None if degraded is None else min(c.ok, degraded)
    return {"ok": c.ok - (shown or 0), "degraded": shown, "error": c.requests - c.ok, "dropped": c.dropped,
            "late": c.late}


def degraded_share(counters: dict[str, float], ok: int) -> float | None:
    """Degraded answers over ok answers; None if the app does not report fallbacks."""
    n = degraded_answers(counters)
    if n is None:
        return None
    return n / ok if ok else 0.0

ALL = "all"


def phase_names(result: RunResult, app: str) -> list[str]:
    """The app's phases in timeline order (phases not in the timeline last, by name)."""
    present = result.apps[app].phases
    ordered = [p.name for p in result.phases if p.name in present]
    return ordered + sorted(n for n in present if n not in ordered)


def _counted_phases(result: RunResult, app: str) -> list[str]:
    kinds = {p.name: p.kind for p in result.phases}
    return [n for n in phase_names(result, app) if kinds.get(n) != "warmup"]


def phase_duration_s(result: RunResult, app: str, phase: str) -> float:
    if phase == ALL:
        names = _counted_phases(result, app)
        spans = [result.phase(n) for n in names]
        if spans and all(s is not None for s in spans):
            return sum(max(0.0, s.end_s - s.start_s) for s in spans if s is not None)
        return result.duration_s
    span = result.phase(phase)
    return max(0.0, span.end_s - span.start_s) if span else result.duration_s


def _merge_summary(parts: list[Summary | None]) -> Summary | None:
    present = [p for p in parts if p is not None and p.count]
    if not present:
        return None if all(p is None for p in parts) else Summary()
    h = Histogram()
    for p in present:
        h.add(p.histogram())
    return Summary.of(h)


def _merge_kind(parts: list[KindStats]) -> dict:
    errors = {k: sum(p.errors.get(k, 0) for p in parts) for k in ERROR_CLASSES}
    return {
        "requests": sum(p.requests for p in parts),
        "ok": sum(p.ok for p in parts),
        "dropped": sum(p.dropped for p in parts),
        "late": sum(p.late for p in parts),
        "errors": errors,
        "latency": Latency(
            response_time=_merge_summary([p.latency.response_time for p in parts]) or Summary(),
            service_time=_merge_summary([p.latency.service_time for p in parts]) or Summary(),
            ttft=_merge_summary([p.latency.ttft for p in parts]),
            ok_response_time=_merge_summary([p.latency.ok_response_time for p in parts]),
        ),
    }


def merge_phases(parts: list[PhaseResult]) -> PhaseResult:
    """One PhaseResult holding several phases together (exact for histograms and sums)."""
    kinds = sorted({k for p in parts for k in p.client.by_kind})
    client = ClientStats(
        **_merge_kind([p.client for p in parts]),
        by_kind={k: KindStats(**_merge_kind([p.client.by_kind[k] for p in parts if k in p.client.by_kind])) for k in kinds},
    )
    stage_names = sorted({s for p in parts for s in p.stages})
    stages = {s: _merge_summary([p.stages.get(s) for p in parts]) or Summary() for s in stage_names}
    counters: dict[str, float] = {}
    for p in parts:
        for key, value in p.counters.items():
            counters[key] = counters.get(key, 0.0) + value
    provider: dict[str, ProviderEndpointStats] = {}
    for p in parts:
        for endpoint, st in p.provider.items():
            acc = provider.setdefault(endpoint, ProviderEndpointStats())
            for name in ("requests", "inputs", "tokens_in", "tokens_out", "rate_limited", "faults_injected",
                         "retries_seen", "errors"):
                setattr(acc, name, getattr(acc, name) + getattr(st, name))
            acc.cost_usd += st.cost_usd
    stage_errors: dict[str, int] = {}
    for p in parts:
        for stage, n in p.stage_errors.items():
            stage_errors[stage] = stage_errors.get(stage, 0) + n
    return PhaseResult(client=client, stages=stages, counters=counters, provider=provider,
                       dependencies=_merge_dependencies(parts), stage_errors=stage_errors)


def _merge_dependencies(parts: list[PhaseResult]) -> dict[str, DependencyCalls]:
    out: dict[str, DependencyCalls] = {}
    for dep in sorted({d for p in parts for d in p.dependencies}):
        present = [p.dependencies[dep] for p in parts if dep in p.dependencies]
        endpoints: dict[str, EndpointCalls] = {}
        for name in sorted({e for d in present for e in d.endpoints}):
            es = [d.endpoints[name] for d in present if name in d.endpoints]
            status: dict[str, int] = {}
            for e in es:
                for cls, n in e.status.items():
                    status[cls] = status.get(cls, 0) + n
            endpoints[name] = EndpointCalls(
                attempts=sum(e.attempts for e in es), retries=sum(e.retries for e in es), status=status,
                no_response=sum(e.no_response for e in es),
                duration=_merge_summary([e.duration for e in es]) or Summary(),
                error_duration=_merge_summary([e.error_duration for e in es]) or Summary(),
            )
        out[dep] = DependencyCalls(proxy=present[0].proxy, connections=sum(d.connections for d in present),
                                   refused=sum(d.refused for d in present), calls=sum(d.calls for d in present),
                                   endpoints=endpoints)
    return out


def phase_result(result: RunResult, app: str, phase: str) -> PhaseResult:
    phases = result.apps[app].phases
    if phase == ALL:
        key = ("merged", app)
        if key not in result._memo:
            result._memo[key] = merge_phases([phases[n] for n in _counted_phases(result, app)])
        return result._memo[key]
    if phase not in phases:
        raise KeyError(f"app {app!r} has no phase {phase!r}; it has {', '.join(phase_names(result, app)) or 'none'}")
    return phases[phase]


@dataclass
class Figures:
    app: str
    phase: str
    duration_s: float
    requests: int
    ok: int
    errors: dict[str, int]
    response: dict[str, Summary]  # by kind, plus "all"
    service: dict[str, Summary]
    ttft: Summary | None
    stages: dict[str, Summary]
    goodput_ok: int  # ok answers that count as goodput (within the SLO where one is given)
    goodput_ok_by_kind: dict[str, int]
    answered_queries: int
    provider_calls: float | None
    provider_tokens: float | None
    provider_cost_usd: float | None
    provider_rate_limited: float | None
    provider_retries: float | None = None  # requests the provider saw with x-stainless-retry-count > 0
    cache_hit_ratio: dict[str, float] = field(default_factory=dict)
    retries_by_reason: dict[str, float] = field(default_factory=dict)
    breaker_transitions: dict[str, float] = field(default_factory=dict)  # "dependency->state"
    embed_batch_mean: float | None = None
    counters: Counters | None = None
    dropped: int = 0  # arrivals never sent: failures of the run, apart from the app's errors
    late: int = 0  # sent more than 50 ms after their intended time
    degraded: int | None = None  # ok answers that were fallbacks (None: the app does not say)

    @property
    def clean_ok(self) -> int:
        """Ok answers that were not degraded."""
        return max(0, self.ok - (self.degraded or 0))

    def outcome_shares(self) -> dict[str, float]:
        """ok (clean) / degraded / error / dropped over every scheduled arrival (sums to 1)."""
        n = self.scheduled
        if not n:
            return {"ok": 0.0, "degraded": 0.0, "error": 0.0, "dropped": 0.0}
        degraded = min(self.ok, self.degraded or 0)
        return {"ok": (self.ok - degraded) / n, "degraded": degraded / n, "error": (self.requests - self.ok) / n,
                "dropped": self.dropped / n}

    @property
    def scheduled(self) -> int:
        """Arrivals the run meant to send: those sent and those dropped."""
        return self.requests + self.dropped

    @property
    def dropped_rate(self) -> float:
        return self.dropped / self.scheduled if self.scheduled else 0.0

    @property
    def late_rate(self) -> float:
        return self.late / self.requests if self.requests else 0.0

    @property
    def failure_rate(self) -> float:
        """App errors and dropped arrivals over every scheduled arrival."""
        return (self.requests - self.ok + self.dropped) / self.scheduled if self.scheduled else 0.0

    @property
    def goodput_share(self) -> float:
        """Goodput answers over every scheduled arrival (dropped ones are not goodput)."""
        return self.goodput_ok / self.scheduled if self.scheduled else 0.0

    @property
    def error_rate(self) -> float:
        return (self.requests - self.ok) / self.requests if self.requests else 0.0

    def error_rate_of(self, cls: str) -> float:
        return self.errors.get(cls, 0) / self.requests if self.requests else 0.0

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def goodput_rps(self) -> float:
        return self.goodput_ok / self.duration_s if self.duration_s > 0 else 0.0

    def kind_throughput_rps(self, kind: str) -> float:
        s = self.response.get(kind)
        return s.count / self.duration_s if s is not None and self.duration_s > 0 else 0.0

    def kind_goodput_rps(self, kind: str) -> float:
        n = self.goodput_ok_by_kind.get(kind, self.goodput_ok if kind == "all" else 0)
        return n / self.duration_s if self.duration_s > 0 else 0.0

    def per_answer(self, value: float | None) -> float | None:
        if value is None or not self.answered_queries:
            return None
        return value / self.answered_queries

    @property
    def freshness(self) -> Summary | None:
        return self.stages.get("ingest.freshness")


def _goodput_by_kind(result: RunResult, client: ClientStats) -> dict[str, int]:
    """Ok answers that count as goodput, per kind (within the kind's SLO when there is one)."""
    slo = result.scenario.slo_ms
    out = {}
    kinds = client.by_kind or {"all": client}
    for kind, stats in kinds.items():
        if kind in slo:
            ok_rt = stats.latency.ok_response_time
            out[kind] = ok_rt.histogram().count_at_or_below_us(slo[kind] * 1000.0) if ok_rt is not None else 0
        else:
            out[kind] = stats.ok
    return out


def _provider_sum(pr: PhaseResult, attr: str) -> float | None:
    if not pr.provider:
        return None
    return float(sum(getattr(st, attr) for st in pr.provider.values()))


def figures(result: RunResult, app: str, phase: str = ALL) -> Figures:
    key = ("figures", app, phase)
    if key not in result._memo:
        result._memo[key] = _figures(result, app, phase)
    return result._memo[key]


def _figures(result: RunResult, app: str, phase: str) -> Figures:
    pr = phase_result(result, app, phase)
    c = pr.client
    counters = Counters(pr.counters)
    response = {k: s.latency.response_time for k, s in c.by_kind.items()}
    service = {k: s.latency.service_time for k, s in c.by_kind.items()}
    response["all"] = c.latency.response_time
    service["all"] = c.latency.service_time
    answered = c.by_kind["query"].ok if "query" in c.by_kind else c.ok
    goodput = _goodput_by_kind(result, c)

    hit_ratio: dict[str, float] = {}
    for layer, lookups in counters.by("ragchaos_cache_requests_total", "layer").items():
        if lookups:
            hit_ratio[layer] = (counters.total("ragchaos_cache_requests_total", layer=layer, result="hit") or 0.0) / lookups

    calls = _provider_sum(pr, "requests")
    if calls is None:
        calls = counters.total("ragchaos_provider_calls_total")
    tokens = None
    if pr.provider:
        tokens = float(sum(st.tokens_in + st.tokens_out for st in pr.provider.values()))
    else:
        tokens = counters.total("ragchaos_provider_tokens_total")

    batch_sum = counters.total("ragchaos_embed_batch_size_sum")
    batch_count = counters.total("ragchaos_embed_batch_size_count")
    batch_mean = batch_sum / batch_count if batch_sum is not None and batch_count else None

    transitions = {
        f"{dep}->{to}": v
        for (dep, to), v in counters.by_labels("ragchaos_breaker_transitions_total", "dependency", "to").items()
    }
    return Figures(
        app=app,
        phase=phase,
        duration_s=phase_duration_s(result, app, phase),
        requests=c.requests,
        ok=c.ok,
        errors=dict(c.errors),
        response=response,
        service=service,
        ttft=c.latency.ttft,
        stages=dict(pr.stages),
        goodput_ok=sum(goodput.values()),
        goodput_ok_by_kind=goodput,
        answered_queries=answered,
        provider_calls=calls,
        provider_tokens=tokens,
        provider_cost_usd=_provider_sum(pr, "cost_usd"),
        provider_rate_limited=_provider_sum(pr, "rate_limited"),
        provider_retries=_provider_sum(pr, "retries_seen"),
        cache_hit_ratio=hit_ratio,
        retries_by_reason=counters.by("ragchaos_retries_total", "reason"),
        breaker_transitions=transitions,
        embed_batch_mean=batch_mean,
        counters=counters,
        dropped=c.dropped,
        late=c.late,
        degraded=degraded_answers(pr.counters),
    )
