from __future__ import annotations

import json
import threading

import pytest

from ragchaos.reports.recorder import Recorder, classify_exception, classify_status
from ragchaos.reports.results import ERROR_CLASSES


def rec_one(rec: Recorder, **kw) -> None:
    args = {"intended_start": 10.0, "actual_start": 10.0, "end": 10.1, "outcome": "ok"} | kw
    rec.record(kw.pop("app", "a"), "query", "steady", **{k: v for k, v in args.items() if k != "app"})


def test_response_time_from_intended_and_service_time_from_actual() -> None:
    rec = Recorder()
    rec.record("a", "query", "steady", intended_start=10.0, actual_start=10.5, end=10.6, outcome="ok", ttft=0.05)
    lat = rec.client_stats("a", "steady").latency
    assert lat.response_time.p50_us == pytest.approx(600_000, rel=0.001)
    assert lat.service_time.p50_us == pytest.approx(100_000, rel=0.001)
    assert lat.ttft.p50_us == pytest.approx(50_000, rel=0.001)
    assert lat.ok_response_time.count == 1


def test_closed_model_response_equals_service() -> None:
    rec = Recorder()
    rec.record("a", "query", "steady", intended_start=None, actual_start=3.0, end=3.25, outcome="ok")
    lat = rec.client_stats("a", "steady").latency
    assert lat.response_time == lat.service_time


def test_errors_are_counted_by_class_and_kept_in_latency() -> None:
    rec = Recorder()
    for outcome in ["ok", "ok", "429", "shed", "shed", "timeout"]:
        rec.record("a", "query", "fault", intended_start=1.0, actual_start=1.0, end=1.2, outcome=outcome)
    rec.record("a", "ingest", "fault", intended_start=1.0, actual_start=1.0, end=1.3, outcome="5xx")
    c = rec.client_stats("a", "fault")
    assert (c.requests, c.ok) == (7, 2)
    assert c.errors == {**{k: 0 for k in ERROR_CLASSES}, "429": 1, "shed": 2, "timeout": 1, "5xx": 1}
    assert c.latency.response_time.count == 7
    assert c.latency.ok_response_time.count == 2
    assert c.by_kind["ingest"].errors["5xx"] == 1 and c.by_kind["query"].requests == 6


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'boom'"):
        Recorder().record("a", "query", "p", intended_start=None, actual_start=0, end=1, outcome="boom")


def test_drain_ships_everything_once_and_merge_is_exact() -> None:
    a, b, whole = Recorder(), Recorder(), Recorder()
    for i in range(2_000):
        end = 50.0 + i * 0.01
        outcome = "ok" if i % 7 else "quota"
        for rec in (a if i % 2 else b, whole):
            rec.record("x", "query", "steady" if i < 1_000 else "spike", intended_start=end - 0.3 - (i % 13) / 100,
                       actual_start=end - 0.3, end=end, outcome=outcome)
    shipped = json.loads(json.dumps(a.drain()))  # it crosses the wire as JSON
    assert a.drain()["cells"] == []  # drained
    merged = Recorder.from_dict(shipped).merge(b)
    for phase in ("steady", "spike"):
        assert merged.client_stats("x", phase) == whole.client_stats("x", phase)
    assert merged.intervals("x", 50.0) == whole.intervals("x", 50.0)
    with pytest.raises(ValueError, match="version"):
        merged.merge({"version": 99})


def test_intervals_bucket_by_completion_second() -> None:
    rec = Recorder()
    for end in (100.2, 100.9, 101.1):
        rec.record("x", "query", "s", intended_start=None, actual_start=end - 0.1, end=end, outcome="ok")
    rec.record("x", "query", "s", intended_start=None, actual_start=101.0, end=101.5, outcome="5xx")
    rows = rec.intervals("x", t0=100.0)
    assert [(r.t_s, r.requests, r.ok, r.errors) for r in rows] == [(0.0, 2, 2, 0), (1.0, 2, 1, 1)]
    assert rows[1].p99_us == pytest.approx(500_000, rel=0.01)


def test_threads_recording_at_once_lose_nothing() -> None:
    rec = Recorder()

    def hammer(n: int) -> None:
        for i in range(n):
            rec.record("t", "query", "steady", intended_start=None, actual_start=0.0, end=0.001 * (i % 50 + 1),
                       outcome="ok" if i % 3 else "reset")

    threads = [threading.Thread(target=hammer, args=(3_000,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = rec.client_stats("t", "steady")
    assert c.requests == 18_000 and c.errors["reset"] == 6 * 1_000
    assert c.latency.service_time.count == 18_000


@pytest.mark.parametrize(
    ("status", "headers", "body", "want"),
    [
        (200, {}, None, "ok"),
        (202, {}, None, "ok"),
        (429, {"Retry-After": "1"}, b'{"error": {"type": "quota_exceeded", "message": "tenant acme"}}', "quota"),
        (429, {}, {"error": {"type": "rate_limited", "message": "slow down"}}, "429"),
        (429, {}, "not json", "429"),
        (503, {"retry-after": "2"}, None, "shed"),
        (503, {}, None, "5xx"),
        (502, {}, None, "5xx"),
        (408, {}, None, "timeout"),
        (404, {}, None, "other"),
        (0, {}, None, "other"),
    ],
)
def test_classify_status(status, headers, body, want) -> None:
    assert classify_status(status, headers, body) == want


class GeventLikeConnectionClosed(Exception):  # named like geventhttpclient's, not imported
    pass


def test_classify_exception() -> None:
    assert classify_exception(TimeoutError()) == "timeout"
    assert classify_exception(TimeoutError("timed out")) == "timeout"
    assert classify_exception(ConnectionResetError(104, "Connection reset by peer")) == "reset"
    assert classify_exception(BrokenPipeError()) == "reset"
    assert classify_exception(GeventLikeConnectionClosed("closed")) == "reset"
    assert classify_exception(ConnectionRefusedError()) == "other"
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify_exception(outer) == "reset"
    assert classify_exception(ValueError("bad")) == "other"


def test_timeline_seconds_behind_the_load_are_kept_encoded_and_read_back_exactly() -> None:
    from ragchaos.measure.hdr import Histogram

    rec = Recorder(batch=64)
    direct: dict[int, Histogram] = {}
    for i in range(6_000):  # 100 s at 60 requests/s
        end = 1_000.0 + i / 60
        rt = 0.001 * (1 + i % 97)
        rec.record("a", "query", "s", intended_start=end - rt, actual_start=end - rt, end=end, outcome="ok")
        # the same float arithmetic as the recorder: end - intended
        direct.setdefault(int(end) - 1_000, Histogram(significant_figures=2)).record_us((end - (end - rt)) * 1e6)
    rec.flush()
    ticks = list(rec._ticks.values())
    assert sum(t._hist is None for t in ticks) >= len(ticks) - 5  # only the last seconds stay open
    rows = rec.intervals("a", t0=1_000.0)
    assert [r.t_s for r in rows] == [float(s) for s in sorted(direct)]
    for r in rows:
        h = direct[int(r.t_s)]
        assert (r.p50_us, r.p99_us) == (h.percentile_us(50), h.percentile_us(99))
    # a late row for an old second (a worker's report) still lands in it
    rec.record("a", "query", "s", intended_start=1_010.2, actual_start=1_010.2, end=1_010.5, outcome="5xx")
    late = next(r for r in rec.intervals("a", t0=1_000.0) if r.t_s == 10.0)
    assert late.errors == 1 and late.requests == 61
