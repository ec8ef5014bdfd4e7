"""Each observation rule: it speaks on the evidence it needs, and stays quiet without it."""

from __future__ import annotations

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.observations import RULES, observe
from ragchaos.reports.results import (
    AppResult,
    ClientStats,
    Correctness,
    FaultReach,
    FaultRecord,
    Interval,
    KindStats,
    Latency,
    Phase,
    PhaseResult,
    ProviderEndpointStats,
    ProxyCallsInfo,
    RunInfo,
    RunResult,
    ScenarioInfo,
    Summary,
)


def _latency(us: int, n: int = 50) -> Latency:
    h = Histogram()
    for _ in range(n):
        h.record_us(us)
    return Latency(response_time=Summary.of(h), service_time=Summary.of(h))


def _phase(p99_us: int = 100_000, ok: int = 50, calls: int = 100, limited: int = 0, retries: int = 0) -> PhaseResult:
    query = KindStats(requests=ok, ok=ok, latency=_latency(p99_us))
    return PhaseResult(client=ClientStats(requests=ok, ok=ok, latency=_latency(p99_us), by_kind={"query": query}),
                       provider={"chat": ProviderEndpointStats(requests=calls, rate_limited=limited,
                                                               retries_seen=retries)})


def _result(phases: dict[str, PhaseResult], *, faults: list[FaultRecord] | None = None,
            intervals: list[Interval] | None = None, scored: int = 40, measured: bool = True) -> RunResult:
    spans = [Phase(name=n, kind="fault" if n == "fault" else "steady", start_s=10.0 * i, end_s=10.0 * (i + 1))
             for i, n in enumerate(phases)]
    return RunResult(
        scenario=ScenarioInfo(name="t"),
        run=RunInfo(started_at=0.0, ended_at=10.0 * len(phases),
                    proxy_calls=ProxyCallsInfo(measured=measured, note="" if measured else "not measured: real Toxiproxy")),
        phases=spans, faults=faults or [],
        apps={"svc": AppResult(phases=phases, intervals=intervals or [],
                               correctness=Correctness(scored=scored, hit_at_k=scored))})


def _rules(result: RunResult) -> list[str]:
    return [o.rule for o in observe(result)]


def test_a_quiet_healthy_run_says_nothing() -> None:
    assert _rules(_result({"steady": _phase()})) == []


def test_every_rule_is_registered_once() -> None:
    assert set(RULES) == {"fault_missed", "p99_tracked_fault", "proxy_not_measured", "retry_storm", "sources_missing"}


def test_hit_at_k_unscored_when_no_sources() -> None:
    [o] = observe(_result({"steady": _phase()}, scored=0))
    assert o.rule == "sources_missing" and "returned no sources" in o.text and "50 answered queries" in o.evidence


def test_a_missed_fault_is_said_with_its_message() -> None:
    miss = FaultRecord(name="brownout", target="svc", dependency="vectordb", applied_at_s=10, reverted_at_s=20,
                       reach=FaultReach(verdict="missed", message="its proxy carried no call"))
    reached = miss.model_copy(update={"name": "ok", "reach": FaultReach(verdict="reached")})
    found = observe(_result({"steady": _phase()}, faults=[miss, reached]))
    assert [(o.rule, o.evidence) for o in found] == [("fault_missed", "its proxy carried no call")]


def test_no_call_timing_is_said() -> None:
    [o] = observe(_result({"steady": _phase()}, measured=False))
    assert o.rule == "proxy_not_measured" and "real Toxiproxy" in o.evidence


def _fault_seconds(p99s: list[int]) -> list[Interval]:
    return [Interval(t_s=10.0 + i, kind="query", requests=5, ok=5, p99_us=p) for i, p in enumerate(p99s)]


def test_p99_that_tracks_a_latency_fault_for_its_whole_length() -> None:
    fault = FaultRecord(name="freeze", target="svc", dependency="vectordb", what="latency 2000ms",
                        applied_at_s=10.0, reverted_at_s=16.0)
    tracked = _result({"steady": _phase(100_000), "fault": _phase(2_100_000)}, faults=[fault],
                      intervals=_fault_seconds([2_100_000] * 6))
    [o] = observe(tracked)
    assert o.rule == "p99_tracked_fault" and "does its client have a timeout on vectordb" in o.text
    assert "6 of 6 seconds" in o.evidence
    # a client with a timeout: p99 rises for a second, then the fallback answers fast
    cut = _result({"steady": _phase(100_000), "fault": _phase(400_000)}, faults=[fault],
                  intervals=_fault_seconds([2_100_000, 150_000, 150_000, 150_000, 150_000, 150_000]))
    assert _rules(cut) == []


def test_429s_met_with_retries() -> None:
    storm = _result({"steady": _phase(calls=100), "fault": _phase(calls=260, limited=120, retries=110)})
    [o] = observe(storm)
    assert o.rule == "retry_storm" and "110 retries behind 120 429s" in o.text and "5.2" in o.evidence
    paced = _result({"steady": _phase(calls=100), "fault": _phase(calls=110, limited=12, retries=2)})
    assert _rules(paced) == []
