"""What the runner measures, without servers: outcomes and correctness per request, counter
deltas from /metrics, per-phase accumulation, and the steady-state checks on a RunResult."""

from __future__ import annotations

import json

from ragchaos.measure.hdr import Histogram
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reports.checks import CheckSpec
from ragchaos.reports.checks.evaluate import evaluate
from ragchaos.reports.recorder import Recorder
from ragchaos.reports.results import AppResult, Phase, PhaseResult, RunInfo, RunResult, ScenarioInfo
from ragchaos.scenarios.collect import PhaseAccumulator, diff_counters, parse_metrics
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loader import parse_scenario
from ragchaos.scenarios.requests import RequestSource, Workbench

SCENARIO = """\
name: t
seed: 5
warmup: 2s
corpus: {tenants: 2, documents_per_tenant: 5}
workload: {questions: 20, query_ratio: 1.0}
load:
  kind: arrivals
  stages: [{duration: 10s, rate: 2}]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_finish_classifies_records_and_scores_retrieval() -> None:
    clock = Clock()
    ctx = RunContext(Workbench(parse_scenario(SCENARIO)), {"naive": "http://x"}, t0=100.0, clock=clock)
    spec = RequestSource(ctx.bench, "t").next()
    right = json.dumps({"answer": "a", "sources": [{"doc_id": spec.question.source_doc_id}]})
    wrong = json.dumps({"answer": "a", "sources": [{"doc_id": "nope"}]})
    assert ctx.finish("naive", spec, intended=101.0, actual=101.5, end=102.0, status=200, body=right) == "ok"
    assert ctx.finish("naive", spec, intended=103.0, actual=103.0, end=103.2, status=200, body=wrong) == "ok"
    assert ctx.finish("naive", spec, intended=104.0, actual=104.0, end=104.1, status=429,
                      body='{"error": {"type": "rate_limited", "message": "slow down"}}') == "429"
    assert ctx.finish("naive", spec, intended=105.0, actual=105.0, end=115.0, status=0,
                      error=TimeoutError("timed out")) == "timeout"
    assert ctx.finish("naive", spec, intended=106.0, actual=106.0, end=106.0, status=0,
                      error=ConnectionResetError()) == "reset"
    t = ctx.tally["naive"]
    assert (t.requests, t.errors, t.scored, t.hits) == (5, 3, 2, 1)
    # the request intended at 101 (run time 1 s) is in the warmup; the rest are steady
    assert ctx.recorder.client_stats("naive", "warmup").requests == 1
    steady = ctx.recorder.client_stats("naive", "steady")
    assert steady.requests == 4 and steady.errors["timeout"] == 1 and steady.errors["reset"] == 1
    # measured from the intended send: 1 s, of which 0.5 s before it was really sent
    warm = ctx.recorder.histogram("naive", "warmup")
    assert abs(warm.max_us - 1_000_000) < 1_000
    assert abs(ctx.recorder.histogram("naive", "warmup", which="service_time").max_us - 500_000) < 1_000


def test_counter_deltas_from_metrics_text() -> None:
    m = AppMetrics("x")
    m.retries.labels("chat", "429").inc(2)
    m.breaker_state.labels("chat").set(2)
    m.embed_batch_size.observe(8)
    before, _ = parse_metrics(m.render().decode())
    m.retries.labels("chat", "429").inc(3)
    m.embed_batch_size.observe(16)
    m.breaker_state.labels("chat").set(0)
    after, gauges = parse_metrics(m.render().decode())
    d = diff_counters(before, after, gauges)
    assert d['ragchaos_retries_total{dependency="chat",reason="429"}'] == 3
    assert d["ragchaos_embed_batch_size_sum"] == 16 and d["ragchaos_embed_batch_size_count"] == 1
    assert d['ragchaos_breaker_state{dependency="chat"}'] == 0  # a gauge is read, not diffed
    assert not any(k.endswith("_created") for k in d)


def test_accumulator_adds_snapshots_of_one_phase() -> None:
    acc = PhaseAccumulator()
    h1, h2 = Histogram(), Histogram()
    h1.record_us(1000)
    h2.record_us(3000)
    keys = {"naive": {"chat": {"requests": 2, "tokens_in": 10}}}
    acc.add("naive", "fault", {"stages": {"query.total": h1}, "counters": {"c": 1.0}, "gauges": set()}, keys)
    acc.add("naive", "fault", {"stages": {"query.total": h2}, "counters": {"c": 2.0}, "gauges": set()}, keys)
    assert acc.stages[("naive", "fault")]["query.total"].count == 2
    assert acc.counters[("naive", "fault")]["c"] == 3.0
    assert acc.provider[("naive", "fault")]["chat"]["requests"] == 4


def _result(steady_ms: list[int], spike_ms: list[int], spike_errors: int) -> RunResult:
    rec = Recorder()
    for i, ms in enumerate(steady_ms):
        rec.record("reference", "query", "steady", intended_start=i, actual_start=i, end=i + ms / 1000, outcome="ok")
    for i, ms in enumerate(spike_ms):
        outcome = "5xx" if i < spike_errors else "ok"
        t = 10 + i * 0.1
        rec.record("reference", "query", "spike", intended_start=t, actual_start=t, end=t + ms / 1000, outcome=outcome)
    app = AppResult(phases={p: PhaseResult(client=rec.client_stats("reference", p)) for p in ("steady", "spike")})
    return RunResult(scenario=ScenarioInfo(name="t"), run=RunInfo(started_at=0.0, ended_at=20.0),
                     phases=[Phase(name="steady", start_s=0, end_s=10), Phase(name="spike", kind="spike", start_s=10, end_s=20)],
                     apps={"reference": app})


def _judge(result: RunResult, *exprs: str) -> list:
    return evaluate(result, [CheckSpec(check=e) for e in exprs]).checks


def test_phase_checks_absolute_and_relative() -> None:
    result = _result([100] * 400, [250] * 400, spike_errors=8)
    verdicts = [c.state for c in _judge(
        result, "reference.spike.error_rate <= 1%", "reference.spike.response.p99 <= 3x steady",
        "reference.spike.response.p99 <= 2x steady", "reference.steady.response.p50 <= 150ms",
        "reference.recovery.response.p99 <= 1s")]
    # 2% errors > 1%; 250 ms <= 3 x 100 ms; 250 ms > 2 x 100 ms; 100 ms <= 150 ms; no recovery phase
    assert verdicts == ["fail", "pass", "fail", "pass", "fail"]


def test_a_failure_that_must_reproduce_is_at_least_a_multiple_of_another_phase() -> None:
    result = _result([100] * 400, [250] * 400, spike_errors=0)
    verdicts = _judge(result, "reference.spike.response.p99 >= 2x steady", "reference.spike.response.p99 >= 3x steady")
    assert [c.state for c in verdicts] == ["pass", "fail"]  # 250 ms >= 2 x 100 ms, not >= 3 x 100 ms
    assert "not >= 300 ms (3 x steady = 3 x 100 ms)" in verdicts[1].reason


def test_a_p99_of_a_short_phase_is_insufficient_data() -> None:
    result = _result([100] * 100, [250] * 100, spike_errors=0)
    [verdict] = _judge(result, "reference.spike.response.p99 <= 2x steady")
    assert verdict.state == "insufficient" and "needs at least 368 samples, this run has 100" in verdict.reason
