"""What the live view measures, without a browser: frames, server-side deltas and notes.

Frames must say what the report's own recording says (the same ``Recorder``); the server feeds
must survive a reset of the provider's stats by the runner; the notes must come from the
report's mechanism measurements and say "insufficient data" when there is too little.
"""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from ragchaos.live.feeds import Deltas, ServerFeeds, breaker_states
from ragchaos.live.frames import FrameBuilder, SecondCounter
from ragchaos.live.notes import LIVE_PHASE, MechanismNotes, WindowResult
from ragchaos.live.session import Attachment, LiveSession
from ragchaos.live.settings import LiveSettings
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reports.recorder import Recorder
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loader import parse_scenario
from ragchaos.scenarios.requests import RequestSource, Workbench

SCENARIO = """\
name: t
seed: 5
corpus: {tenants: 2, documents_per_tenant: 5}
workload: {questions: 20, query_ratio: 1.0}
load: {kind: arrivals, stages: [{duration: 10s, rate: 2}]}
slo: {query: 1s}
"""
OK = json.dumps({"answer": "a", "sources": []})
DEGRADED = json.dumps({"answer": "a", "sources": [], "degraded": "cache"})
T0 = 1_000.0


def _context() -> RunContext:
    return RunContext(Workbench(parse_scenario(SCENARIO)), {"naive": "http://x", "reference": "http://y"}, t0=T0)


def test_a_frame_is_the_recorders_second_plus_the_listeners_counts() -> None:
    ctx = _context()
    counter = SecondCounter({"query": 1000.0})
    ctx.listeners.append(counter.add)
    spec = RequestSource(ctx.bench, "t").next()
    second = int(T0) + 3
    # naive, second 1003: 6 ok within the 1 s SLO, 2 ok too slow, 2 errors (a 5xx, a shed)
    for i, latency in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.5, 2.5]):
        end = second + 0.05 * (i + 1)
        ctx.finish("naive", spec, intended=end - latency, actual=end - latency, end=end, status=200, body=OK)
    ctx.finish("naive", spec, intended=second + 0.1, actual=second + 0.1, end=second + 0.6, status=500, body="{}")
    ctx.finish("naive", spec, intended=second + 0.2, actual=second + 0.2, end=second + 0.7, status=503,
               headers={"Retry-After": "1"}, body="{}")
    # reference: 4 ok, 1 of them degraded; one more in the next second, which is not this frame's
    for i in range(4):
        ctx.finish("reference", spec, intended=second + 0.1 * i, actual=second + 0.1 * i,
                   end=second + 0.1 * i + 0.05, status=200, body=DEGRADED if i == 0 else OK)
    ctx.finish("reference", spec, intended=second + 0.9, actual=second + 0.9, end=second + 1.2, status=200, body=OK)
    # two arrivals the load generator could not send: shown apart from the app's errors
    ctx.dropped("reference", spec, second + 0.3)
    ctx.dropped("reference", spec, second + 0.4)

    frame = FrameBuilder(ctx.recorder, counter, ["naive", "reference"], lambda: ctx.t0).client(second)
    naive, ref = frame["naive"], frame["reference"]
    assert naive["rps"] == naive["check"] == 10 and ref["rps"] == ref["check"] == 4
    assert naive["error_share"] == pytest.approx(0.2) and naive["shed"] == 1
    assert naive["goodput"] == 6  # ok and within the SLO: the two slow answers and the errors are not
    assert ref["degraded_share"] == pytest.approx(0.25) and ref["error_share"] == 0
    assert ref["dropped"] == 2 and naive["dropped"] == 0
    # the percentiles are the recorder's own for that second (the report's intervals)
    [row] = [r for r in ctx.recorder.intervals("naive", T0) if round(r.t_s + T0) == second]
    assert naive["p50_ms"] == row.p50_us / 1000 and naive["p99_ms"] == row.p99_us / 1000
    assert 2400 <= naive["p99_ms"] <= 2600 and 300 <= naive["p50_ms"] <= 600


def test_a_second_without_requests_has_no_figures_not_zeros() -> None:
    ctx = _context()
    frame = FrameBuilder(ctx.recorder, SecondCounter({}), ["naive"], lambda: ctx.t0).client(int(T0) + 1)
    assert frame["naive"]["rps"] == 0
    assert frame["naive"]["p99_ms"] is None and frame["naive"]["error_share"] is None


def _stats(provider) -> dict:
    with urllib.request.urlopen(f"{provider.url}/_stats", timeout=5) as resp:
        return json.loads(resp.read())["keys"]


def test_provider_counts_are_deltas_and_survive_a_reset_by_the_runner(provider) -> None:
    key = "key-187"
    client = openai.OpenAI(base_url=f"{provider.url}/v1", api_key=key, max_retries=0)
    feeds = ServerFeeds(provider.url, {})
    feeds.poll_provider()
    feeds.take()
    for _ in range(3):
        client.embeddings.create(model="text-embedding-3-small", input=["a b c"])
    feeds.poll_provider()
    first = feeds.take()
    assert first.provider_total(key, "requests") == 3
    # the scenario runner resets the provider's stats at each phase boundary; the live view must
    # count what came after, not a negative delta nor the old total again
    urllib.request.urlopen(urllib.request.Request(f"{provider.url}/_stats/reset", method="POST", data=b""),
                           timeout=5).read()
    for _ in range(2):
        client.embeddings.create(model="text-embedding-3-small", input=["d e f"])
    feeds.poll_provider()
    second = feeds.take()
    assert second.provider_total(key, "requests") == 2 == _stats(provider)[key]["embeddings"]["requests"]


def test_metrics_deltas_gauges_and_breaker_states() -> None:
    m = AppMetrics("reference")
    feeds = ServerFeeds(None, {"reference": "http://reference"}, fetch=lambda url, timeout: m.render())
    m.cache_requests.labels("response", "hit").inc(5)
    feeds.poll_metrics("reference")  # the baseline
    m.cache_requests.labels("response", "hit").inc(3)
    m.cache_requests.labels("response", "miss").inc(1)
    m.breaker_state.labels("chat").set(2)
    m.breaker_state.labels("vectordb").set(0)
    feeds.poll_metrics("reference")
    d = feeds.take()
    assert d.counters["reference"]['ragchaos_cache_requests_total{layer="response",result="hit"}'] == 3
    assert breaker_states(d.gauges["reference"]) == {"chat": "open", "vectordb": "closed"}
    assert feeds.take().counters == {}  # taken once


def test_a_failing_endpoint_costs_its_figures_not_the_poll() -> None:
    def fetch(url: str, timeout: float) -> bytes:
        raise OSError("connection refused")

    feeds = ServerFeeds("http://127.0.0.1:9", {"naive": "http://127.0.0.1:9"}, fetch=fetch)
    feeds.poll_provider()
    feeds.poll_metrics("naive")
    d = feeds.take()
    assert d.provider == {} and len(d.errors) == 2 and "connection refused" in d.errors[0]


def _window(requests: int, errors: int, counters: dict[str, float] | None = None) -> tuple[Recorder, Deltas]:
    rec = Recorder()
    for i in range(requests):
        rec.record("reference", "query", LIVE_PHASE, intended_start=None, actual_start=T0 + i * 0.1,
                   end=T0 + i * 0.1 + 0.05, outcome="5xx" if i < errors else "ok")
    return rec, Deltas(counters={"reference": counters or {}},
                       provider={"reference": {"chat": {"requests": 40.0, "rate_limited": 12.0}}})


def test_notes_word_the_reports_measurements() -> None:
    counters = {'ragchaos_retries_total{dependency="chat",reason="rate_limited"}': 7.0,
                'ragchaos_fallback_total{kind="retrieval_only"}': 3.0}
    rec, deltas = _window(40, 10, counters)
    result = WindowResult(["reference"], {"query": 2000.0}).build(rec, deltas, T0, T0 + 10)
    notes = MechanismNotes(min_requests=20).notes(result, LIVE_PHASE)
    texts = [n.text for n in notes]
    assert texts[0] == "25% of requests fail (server errors 25%)" and notes[0].level == "bad"
    assert "the provider answered 12 calls with 429" in texts
    assert "retried 7 dependency calls" in texts and "served 3 degraded answers instead of errors" in texts
    assert all(n.app == "reference" and n.source == "mechanisms" for n in notes)


def test_too_few_requests_is_insufficient_data_not_a_verdict() -> None:
    rec, deltas = _window(12, 6)
    result = WindowResult(["reference"], {}).build(rec, deltas, T0, T0 + 10)
    [note] = MechanismNotes(min_requests=20).notes(result, LIVE_PHASE)
    assert note.level == "quiet" and note.text.startswith("insufficient data (12 requests")


def test_the_note_sources_are_pluggable_and_a_broken_one_does_not_stop_the_page() -> None:
    class Quiet:
        name = "quiet"

        def notes(self, result, phase):
            return []

    class Broken:
        name = "broken"

        def notes(self, result, phase):
            raise RuntimeError("rule bug")

    ctx = _context()
    session = LiveSession(LiveSettings(note_window_s=0), sources=[Quiet(), Broken()], sleep=lambda s: None)
    feeds = ServerFeeds(None, {})
    session.attach(Attachment(ctx, feeds))
    session.tick(int(T0) + 1)
    assert [n["source"] for n in session.notes] == ["broken"]
    assert "note source broken failed: rule bug" in session.notes[0]["text"]


def test_the_scenarios_checks_are_judged_over_the_window_by_the_reports_evaluator() -> None:
    from ragchaos.live.notes import CheckNotes
    from ragchaos.reports.checks.spec import CheckSpec

    rec = Recorder()
    for app, errors in (("naive", 15), ("reference", 0)):
        for i in range(40):
            phase = "steady" if i < 10 else "fault"
            rec.record(app, "query", phase, intended_start=None, actual_start=T0 + i * 0.2, end=T0 + i * 0.2 + 0.05,
                       outcome="5xx" if 10 <= i < 10 + errors else "ok")
    result = WindowResult(["naive", "reference"], {}).build(rec, Deltas(), T0, T0 + 10, ["steady", "fault"])
    specs = [CheckSpec(check="*.fault.error_rate <= 10%"), CheckSpec(check="*.recovery.error_rate <= 10%"),
             CheckSpec(check="reference.fault.response.p99 < 1s"),
             CheckSpec(check="reference.fault.error_rate <= 5%", requires=["retries"])]
    found = CheckNotes(specs).notes(result, "fault")

    def note(app: str, expr: str):
        return next(n for n in found if n.app == app and expr in n.text)

    naive = note("naive", "*.fault.error_rate <= 10%")
    assert naive.level == "bad" and naive.text.startswith("naive: *.fault.error_rate <= 10% fails (50")  # 15 of 30
    assert naive.evidence.startswith("over the last 10 s")
    assert note("reference", "*.fault.error_rate <= 10%").level == "good"
    # 30 samples cannot bound a p99: not a verdict
    p99 = note("reference", "reference.fault.response.p99 < 1s")
    assert p99.level == "quiet" and "insufficient data" in p99.text
    # the window saw no recovery phase: that check is left to the report
    assert not any("recovery" in n.text for n in found) and len(found) == 4
    # the window cannot tell which mechanisms were on: "not judged", not "fails"
    relies = note("reference", "reference.fault.error_rate <= 5%")
    assert relies.level == "quiet" and "not judged" in relies.text and "fails" not in relies.text


def test_a_stalled_tick_leaves_no_hole_and_a_failing_frame_does_not_stop_the_loop() -> None:
    ctx = _context()
    now = [T0 + 0.5]
    session: LiveSession

    def sleep(seconds: float) -> None:
        now[0] += seconds + (2.5 if len(session.frames) == 3 else 0.0)  # one stall of 2.5 s
        if len(session.frames) >= 10:
            session._stopped = True

    session = LiveSession(LiveSettings(), clock=lambda: now[0], sleep=sleep, sources=[])
    session.attach(Attachment(ctx, ServerFeeds(None, {})))
    real = session.builder.client
    broken = int(T0) + 6

    def client(second: int) -> dict:
        if second == broken:
            raise RuntimeError("recorder hiccup")
        return real(second)

    session.builder.client = client  # type: ignore[method-assign]  # one second's frame fails
    session._run()
    seconds = [f["t"] for f in session.frames]
    assert seconds == [s for s in range(seconds[0], seconds[-1] + 1) if s != broken]
    assert any(f"frame of {broken} failed: RuntimeError: recorder hiccup" in e["text"] for e in session.log)


def test_the_reports_observation_rules_speak_in_the_window() -> None:
    from ragchaos.live.notes import ObservationNotes
    from ragchaos.reports.observations import observe
    from ragchaos.reports.results import ProviderEndpointStats

    def window(storm: bool):
        rec = Recorder()
        for i in range(40):
            phase = "steady" if i < 20 else "fault"
            rec.record("reference", "query", phase, intended_start=None, actual_start=T0 + i * 0.2,
                       end=T0 + i * 0.2 + 0.05, outcome="ok")
        result = WindowResult(["reference"], {}).build(rec, Deltas(), T0, T0 + 10, ["steady", "fault"])
        if storm:  # the provider answered 30 calls with 429 and saw 28 retried at once
            phases = result.apps["reference"].phases
            phases["steady"].provider = {"chat": ProviderEndpointStats(requests=20)}
            phases["fault"].provider = {"chat": ProviderEndpointStats(requests=80, rate_limited=30, retries_seen=28)}
        return result

    # a quiet window says nothing (and hit@k, which no window scores, is not "missing")
    assert ObservationNotes().notes(window(storm=False), "fault") == []
    stormy = window(storm=True)
    [note] = ObservationNotes().notes(stormy, "fault")
    [rule] = observe(stormy, only=["retry_storm"])
    # the report's rule, word for word
    assert (note.app, note.text, note.evidence, note.source) == ("reference", rule.text, rule.evidence, "observations")
    assert "28 retries behind 30 429s" in note.text
