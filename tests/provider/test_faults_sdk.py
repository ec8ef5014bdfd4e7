"""The fault-control API, and each fault kind as the official SDK experiences it."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests.provider.conftest import Provider

HI = [{"role": "user", "content": "[d#1] The sky is blue today. Grass is green.\n\nQuestion: What colour is the sky?"}]


def test_control_api_crud(prov: Provider) -> None:
    a = prov.add_fault(kind="error", status=503, key="k9")
    b = prov.add_fault(id="named", kind="slow", factor=2.0)
    status, listing = prov.call("GET", "/_control/faults")
    assert status == 200 and [f["id"] for f in listing["faults"]] == [a, "named"]
    assert listing["faults"][0]["status"] == 503 and listing["faults"][0]["hits"] == 0
    assert prov.call("DELETE", f"/_control/faults/{b}") == (200, {"deleted": "named"})
    assert prov.call("DELETE", "/_control/faults/named")[0] == 404
    status, body = prov.call("PUT", "/_control/faults", {"faults": [{"kind": "hang", "seconds": 1},
                                                                   {"kind": "fail_first", "n": 2}]})
    assert status == 200 and [f["kind"] for f in body["faults"]] == ["hang", "fail_first"]
    assert body["faults"][1]["remaining"] == 2
    assert prov.call("DELETE", "/_control/faults") == (200, {"deleted": 2})
    assert prov.call("GET", "/_control/faults") == (200, {"faults": []})


@pytest.mark.parametrize(("fault", "word"), [
    ({"kind": "explode"}, "kind"),
    ({"kind": "error", "status": 200}, "status"),
    ({"kind": "error", "rate": 2}, "rate"),
    ({"kind": "error", "colour": "red"}, "colour"),
    ({"kind": "slow", "endpoint": "images"}, "endpoint"),
])
def test_bad_faults_are_refused_whole(prov: Provider, fault: dict, word: str) -> None:
    status, body = prov.call("POST", "/_control/faults", fault)
    assert status == 400 and word in body["error"]["message"]
    status, body = prov.call("PUT", "/_control/faults", {"faults": [{"kind": "error"}, fault]})
    assert status == 400 and "faults[1]" in body["error"]["message"]
    assert prov.call("GET", "/_control/faults")[1] == {"faults": []}  # nothing of a bad PUT applied


@pytest.mark.parametrize(("status", "exc"), [(500, openai.InternalServerError), (502, openai.InternalServerError),
                                              (503, openai.InternalServerError), (529, openai.InternalServerError)])
def test_error_fault(prov: Provider, status: int, exc: type[Exception]) -> None:
    prov.add_fault(kind="error", status=status, key="k9", endpoint="embeddings")
    with pytest.raises(exc) as info:
        prov.client("k9").embeddings.create(model="m", input="x")
    assert info.value.status_code == status
    assert info.value.body["type"]


def test_sdk_retries_follow_retry_after(prov: Provider) -> None:
    """Two 429s carrying retry-after 0.7 s, then success: the SDK waits 0.7 s each time (its own
    backoff would wait 0.375-0.5 s before the first retry)."""
    prov.add_fault(kind="fail_first", n=2, status=429, retry_after_s=0.7, key="k4")
    raw = prov.client("k4", max_retries=2).embeddings.with_raw_response.create(model="m", input="x")
    assert raw.retries_taken == 2
    log = prov.call("GET", "/_stats/requests?key=k4")[1]["requests"]
    assert [r["status"] for r in log] == [429, 429, 200]
    assert [r["retry_count"] for r in log] == [0, 1, 2]
    gaps = [b["t"] - a["t"] for a, b in zip(log, log[1:], strict=False)]
    assert all(0.68 <= g < 0.7 + 2.0 for g in gaps), gaps
    stats = prov.stats("k4")
    assert stats["retries_seen"] == 2 and stats["rate_limited"] == 2 and stats["faults_injected"] == 2


def test_rate_limit_storm_headers(prov: Provider) -> None:
    prov.add_fault(kind="rate_limit", retry_after_s=2.5, key="k10")
    with pytest.raises(openai.RateLimitError) as info:
        prov.client("k10").embeddings.create(model="m", input="x")
    h = info.value.response.headers
    assert (h["retry-after"], h["retry-after-ms"]) == ("3", "2500")
    assert "x-ratelimit-limit-requests" in h
    assert info.value.code == "rate_limit_exceeded"


def test_cut_stream_raises_a_connection_error(prov: Provider) -> None:
    prov.add_fault(kind="stream_cut", after_chunks=3, key="k5", endpoint="chat")
    got = []
    stream = prov.client("k5").chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 3
    # a non-streamed answer is cut mid-body: the SDK retries, then gives up
    with pytest.raises(openai.APIConnectionError):
        prov.client("k5", max_retries=1).chat.completions.create(model="gpt-4o-mini", messages=HI)


def test_malformed_body(prov: Provider) -> None:
    prov.add_fault(kind="malformed", key="k6")
    with pytest.raises(ValueError):  # json.JSONDecodeError: the SDK cannot parse a 200 that is not JSON
        prov.client("k6").embeddings.create(model="m", input="x")
    with pytest.raises(ValueError):
        list(prov.client("k6").chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))


def test_fault_targets_key_and_endpoint(prov: Provider) -> None:
    prov.add_fault(kind="error", status=500, key="k7", endpoint="chat")
    prov.client("k7").embeddings.create(model="m", input="x")
    prov.client("k8").chat.completions.create(model="gpt-4o-mini", messages=HI)
    with pytest.raises(openai.InternalServerError):
        prov.client("k7").chat.completions.create(model="gpt-4o-mini", messages=HI)


def test_rate_is_a_fraction_of_requests(prov: Provider) -> None:
    prov.add_fault(kind="error", status=503, rate=0.3, key="k11")
    client = prov.client("k11")
    failures = 0
    for _ in range(200):
        try:
            client.embeddings.create(model="m", input="x")
        except openai.InternalServerError:
            failures += 1
    assert 30 <= failures <= 90  # 60 expected; the roll is seeded, the bounds are wide anyway
    assert prov.stats("k11")["faults_injected"] == failures


def test_fail_first_then_succeed(prov: Provider) -> None:
    prov.add_fault(kind="fail_first", n=2, key="k12")
    client = prov.client("k12")
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="m", input="x")
    client.embeddings.create(model="m", input="x")
    client.embeddings.create(model="m", input="x")


def test_duration_makes_a_fault_expire(prov: Provider) -> None:
    prov.add_fault(kind="error", status=503, key="k13", duration_s=2.0)
    with pytest.raises(openai.InternalServerError):
        prov.client("k13").embeddings.create(model="m", input="x")
    left = prov.call("GET", "/_control/faults")[1]["faults"]
    if left:  # (on a very slow machine it may have expired already, which is fine)
        assert 0 < left[0]["expires_in_s"] <= 2.0
        time.sleep(left[0]["expires_in_s"] + 0.05)
    prov.client("k13").embeddings.create(model="m", input="x")
    assert prov.call("GET", "/_control/faults")[1] == {"faults": []}


def test_slow_and_timed_hang_delay_the_answer(prov: Provider) -> None:
    prov.add_fault(kind="slow", factor=5.0, key="k14")  # 5 x the nominal 40 ms of an embedding call
    started = time.monotonic()
    prov.client("k14").embeddings.create(model="m", input="x")
    assert time.monotonic() - started >= 0.19
    prov.add_fault(kind="hang", seconds=0.3, key="k15")
    started = time.monotonic()
    prov.client("k15").embeddings.create(model="m", input="x")
    assert time.monotonic() - started >= 0.29


def test_hang_until_removed(prov: Provider) -> None:
    fault = prov.add_fault(kind="hang", key="k16")
    done = threading.Event()
    result: list[object] = []

    def call() -> None:
        result.append(prov.client("k16", timeout=30).embeddings.create(model="m", input="x"))
        done.set()

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while prov.call("GET", "/_control/faults")[1]["faults"][0]["hits"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not done.wait(0.3)  # held
    prov.call("DELETE", f"/_control/faults/{fault}")
    assert done.wait(10)  # released by the removal
    worker.join(5)
    assert len(result) == 1


def test_stopping_the_provider_releases_held_requests(tmp_path) -> None:
    from tests.provider.conftest import CONFIG, start_provider

    other = start_provider(tmp_path, CONFIG, name="provider-hang")
    try:
        other.add_fault(kind="hang")
        result: list[object] = []
        worker = threading.Thread(
            target=lambda: result.append(other.client("k1", timeout=30).embeddings.create(model="m", input="x")),
            daemon=True)
        worker.start()
        deadline = time.monotonic() + 20
        while other.call("GET", "/_control/faults")[1]["faults"][0]["hits"] == 0:  # held now
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        started = time.monotonic()
        other.process.stop(grace=10)
    assert time.monotonic() - started < 5  # not stuck behind the held request
    worker.join(10)
    assert len(result) == 1  # and the held request was answered, not dropped


def test_insufficient_quota_fault(prov: Provider) -> None:
    fault = prov.add_fault(kind="insufficient_quota", key="k20", endpoint="chat")
    with pytest.raises(openai.RateLimitError) as info:
        prov.client("k20").chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.code == "insufficient_quota"
    prov.call("DELETE", f"/_control/faults/{fault}")
    prov.client("k20").chat.completions.create(model="gpt-4o-mini", messages=HI)  # takes effect on the next request


def test_a_client_that_gives_up_on_a_hang_is_counted(prov: Provider) -> None:
    prov.add_fault(kind="hang", key="k21")
    with pytest.raises(openai.APITimeoutError):
        prov.client("k21", timeout=0.5).embeddings.create(model="m", input="x")
    deadline = time.monotonic() + 20
    while prov.stats("k21").get("requests", 0) == 0:  # counted once the provider sees the disconnect
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stats = prov.stats("k21")
    assert stats["requests"] == 1 and stats["errors"] == 1 and stats["faults_injected"] == 1
    assert [r["status"] for r in prov.call("GET", "/_stats/requests?key=k21")[1]["requests"]] == [499]
