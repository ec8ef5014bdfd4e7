"""A fixed, realistic RunResult for report tests: two apps, steady/fault/recovery, built by
driving the real Recorder with seeded synthetic requests (no clock, no network)."""

from __future__ import annotations

import random

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.recorder import Recorder
from ragchaos.reports.results import (
    AppResult,
    Correctness,
    CounterSample,
    Expectation,
    FaultRecord,
    Phase,
    PhaseResult,
    ProviderEndpointStats,
    RunInfo,
    RunResult,
    ScenarioInfo,
    Summary,
)

T0 = 1_800_000_000.0
PHASES = [("steady", "steady", 0.0, 20.0), ("fault", "fault", 20.0, 40.0), ("recovery", "recovery", 40.0, 60.0)]


def _phase_at(t: float) -> str:
    for name, _, start, end in PHASES:
        if start <= t < end:
            return name
    return PHASES[-1][0]


def _simulate(rec: Recorder, app: str, rng: random.Random, latency_scale: float = 1.0) -> None:
    """10 queries/s and 1 ingest/s on a fixed schedule for 60 s."""
    for i in range(600):
        intended = i * 0.1
        phase = _phase_at(intended)
        base = rng.lognormvariate(-1.6, 0.35) * latency_scale  # ~0.2 s
        delay = 0.0
        outcome = "ok"
        if app == "naive" and phase == "fault":
            base *= 6
            delay = rng.uniform(0, 1.5)  # a closed pool falls behind the schedule
            outcome = rng.choices(["ok", "5xx", "429", "timeout"], [70, 15, 10, 5])[0]
        elif app == "reference" and phase == "fault":
            base *= 1.5
            outcome = rng.choices(["ok", "shed", "quota"], [93, 5, 2])[0]
        actual = intended + delay
        end = actual + (0.002 if outcome == "shed" else base)
        rec.record(app, "query", phase, intended_start=T0 + intended, actual_start=T0 + actual, end=T0 + end,
                   outcome=outcome, ttft=base * 0.4 if outcome == "ok" else None)
        if i % 10 == 0:
            d = rng.lognormvariate(-2.5, 0.3)
            rec.record(app, "ingest", phase, intended_start=T0 + intended, actual_start=T0 + intended,
                       end=T0 + intended + d, outcome="ok")


def _stage(rng: random.Random, mu: float, n: int = 200) -> Summary:
    h = Histogram()
    for _ in range(n):
        h.record_us(rng.lognormvariate(mu, 0.4) * 1_000_000)
    return Summary.of(h)


def _counters(app: str, phase: str) -> dict[str, float]:
    if app == "naive":
        return {
            'ragchaos_cache_requests_total{layer="response",result="hit"}': 0,
            'ragchaos_cache_requests_total{layer="response",result="miss"}': 0,
            'ragchaos_retries_total{dependency="provider",reason="429"}': 0,
            'ragchaos_breaker_transitions_total{dependency="provider",to="open"}': 0,
            'ragchaos_shed_total{reason="bulkhead"}': 0,
            "ragchaos_embed_batch_size_sum": 200,
            "ragchaos_embed_batch_size_count": 200,
        }
    fault = phase == "fault"
    return {
        'ragchaos_cache_requests_total{layer="response",result="hit"}': 80,
        'ragchaos_cache_requests_total{layer="response",result="miss"}': 120,
        'ragchaos_cache_requests_total{layer="semantic",result="hit"}': 30,
        'ragchaos_cache_requests_total{layer="semantic",result="miss"}': 90,
        'ragchaos_retries_total{dependency="provider",reason="429"}': 14 if fault else 1,
        'ragchaos_retries_total{dependency="provider",reason="timeout"}': 3 if fault else 0,
        'ragchaos_breaker_transitions_total{dependency="provider",to="open"}': 1 if fault else 0,
        'ragchaos_breaker_transitions_total{dependency="provider",to="half_open"}': 1 if fault else 0,
        'ragchaos_breaker_transitions_total{dependency="provider",to="closed"}': 0 if fault else 1,
        'ragchaos_shed_total{reason="bulkhead"}': 10 if fault else 0,
        'ragchaos_quota_rejections_total{tenant="acme"}': 4 if fault else 0,
        'ragchaos_fallback_total{kind="cached"}': 6 if fault else 0,
        "ragchaos_embed_batch_size_sum": 460,
        "ragchaos_embed_batch_size_count": 20,
    }


def _provider(app: str, rng: random.Random) -> dict[str, ProviderEndpointStats]:
    n_chat = 200 if app == "naive" else 120
    n_emb = 400 if app == "naive" else 150
    return {
        "embeddings": ProviderEndpointStats(requests=n_emb, inputs=n_emb + 400, tokens_in=n_emb * 40,
                                            cost_usd=round(n_emb * 40 * 2e-8, 6),
                                            rate_limited=30 if app == "naive" else 0),
        "chat": ProviderEndpointStats(requests=n_chat, tokens_in=n_chat * 600, tokens_out=n_chat * 120,
                                      cost_usd=round(n_chat * (600 * 1.5e-7 + 120 * 6e-7), 6),
                                      rate_limited=20 if app == "naive" else 1),
    }


def build_run(*, latency_scale: dict[str, float] | None = None, seed: int = 42) -> RunResult:
    """The fixed run. ``latency_scale`` multiplies an app's latencies (regression tests)."""
    scale = latency_scale or {}
    rng = random.Random(seed)
    rec = Recorder()
    apps: dict[str, AppResult] = {}
    for app in ("naive", "reference"):
        _simulate(rec, app, rng, scale.get(app, 1.0))
    for app in ("naive", "reference"):
        s = scale.get(app, 1.0)
        phases = {}
        for name, _, _, _ in PHASES:
            slow = 1.8 if (name == "fault" and app == "naive") else 1.0
            phases[name] = PhaseResult(
                client=rec.client_stats(app, name),
                stages={
                    "query.total": _stage(rng, -1.7 + (slow - 1) + (s - 1)),
                    "query.embed": _stage(rng, -4.0),
                    "query.retrieve": _stage(rng, -4.5),
                    "query.generate": _stage(rng, -1.9 + (slow - 1) + (s - 1)),
                    "ingest.freshness": _stage(rng, 0.0 if app == "naive" else -0.5, 20),
                },
                counters=_counters(app, name),
                provider=_provider(app, rng),
            )
        samples = [
            CounterSample(t_s=float(t), counters={
                'ragchaos_breaker_transitions_total{dependency="provider",to="open"}': 1.0 if app == "reference" and t >= 24 else 0.0,
                'ragchaos_breaker_transitions_total{dependency="provider",to="closed"}': 1.0 if app == "reference" and t >= 44 else 0.0,
            })
            for t in range(0, 61, 4)
        ]
        apps[app] = AppResult(
            phases=phases,
            intervals=rec.intervals(app, T0),
            counter_samples=samples,
            correctness=Correctness(scored=100, hit_at_k=91 if app == "naive" else 93, k=5),
        )
    result = RunResult(
        scenario=ScenarioInfo(
            name="monday-morning",
            description="steady load, then provider 429s and a slow vector store, then recovery",
            seed=seed,
            file="ragchaos/scenarios/builtin/monday-morning.yaml",
            duration_s=60,
            load_model="open",
            slo_ms={"query": 2000},
            expect={
                "reference": [
                    Expectation(mechanism="batching", min=16),
                    Expectation(mechanism="retries", min=1),
                    Expectation(mechanism="cache", min=0.3),
                    Expectation(mechanism="breaker", min=1, phase="fault"),
                    Expectation(mechanism="pacing", max=5),
                ],
                "naive": [Expectation(mechanism="batching", max=2)],
            },
            gate=["reference.query.total.p99 < 2s", "reference.error_rate < 5%", "reference.goodput > 1.05x naive"],
        ),
        run=RunInfo(started_at=T0, ended_at=T0 + 60, versions={"ragchaos": "0.1.0"}, toxiproxy="builtin", workers=1),
        phases=[Phase(name=n, kind=k, start_s=a, end_s=b) for n, k, a, b in PHASES],
        faults=[
            FaultRecord(name="provider-429", target="reference", dependency="provider", what="rate_limit 50%",
                        applied_at_s=20.0, reverted_at_s=40.0),
            FaultRecord(name="vectordb-latency", target="*", dependency="vectordb", what="latency 300ms",
                        applied_at_s=22.0, reverted_at_s=38.0),
        ],
        apps=apps,
    )
    return result
