"""End to end: the resilience mechanisms take effect in the real reference app process, against the
real provider process, a real Chroma server and the Toxiproxy-API fault proxy (tests/conftest.py).

Faults are deterministic (``fail_first`` sequences, a ``hang`` held until removed, a proxy switched
off), so no assertion depends on timing luck; waits are polls with generous limits.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time
import uuid
from typing import Any

import httpx
import pytest

from ragchaos.faults.client import ToxiproxyClient
from tests.apps.helpers import metric, provider_count
from tests.apps.helpers import wait_for as _wait_for

pytestmark = pytest.mark.slow

DOC = (
    "The lighthouse keeper logs the weather every four hours. Storm warnings are raised when the "
    "barometer falls below 990 hectopascals. The lamp is serviced each Tuesday and the fog horn is "
    "tested on the first day of each month."
)


def _tenant() -> str:
    return "t" + uuid.uuid4().hex[:10]


def _client(app: Any) -> httpx.Client:
    return httpx.Client(base_url=app.url, timeout=30.0)


# the e2e waits keep their own 30 s bound
wait_for = functools.partial(_wait_for, timeout=30.0)


def ingest(app: Any, tenant: str, doc_id: str = "d1", text: str = DOC) -> None:
    with _client(app) as c:
        r = c.post("/v1/documents", json={"tenant": tenant, "doc_id": doc_id, "text": text})
        assert r.status_code in (200, 202), r.text
        if r.status_code == 202:
            job = r.json()["job_id"]
            state = wait_for(
                lambda: (s := c.get(f"/v1/jobs/{job}").json()["state"]) in ("done", "failed") and s,
                f"ingest job {job}",
            )
            assert state == "done"


def ask(app: Any, tenant: str, question: str) -> httpx.Response:
    with _client(app) as c:
        return c.post("/v1/query", json={"tenant": tenant, "question": question})


class ProviderFaults:
    def __init__(self, provider: Any) -> None:
        self.url = f"{provider.url}/_control/faults"

    def add(self, **fault: Any) -> str:
        r = httpx.post(self.url, json=fault, timeout=10.0)
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    def remove(self, fault_id: str) -> None:
        httpx.delete(f"{self.url}/{fault_id}", timeout=10.0)


@pytest.fixture
def faults(provider: Any) -> Any:
    pf = ProviderFaults(provider)
    added: list[str] = []
    orig = pf.add

    def add(**fault: Any) -> str:
        fault_id = orig(**fault)
        added.append(fault_id)
        return fault_id

    pf.add = add
    yield pf
    for fault_id in added:
        pf.remove(fault_id)


QUESTION = "When is the lamp serviced?"


def _storm(faults: Any, app: Any) -> None:
    """The next two chat calls of ``app`` are refused with 429 and Retry-After 0.2 s."""
    faults.add(
        kind="fail_first",
        status=429,
        n=2,
        retry_after_s=0.2,
        endpoint="chat",
        key=app.env["RAGCHAOS_PROVIDER_KEY"],
    )


def test_429_storm_reference_answers_with_counted_retries(start_app, faults) -> None:
    reference = start_app("reference", env={"RAGCHAOS_DISABLE": "cache"})
    tenant = _tenant()
    ingest(reference, tenant)
    assert ask(reference, tenant, QUESTION).status_code == 200
    _storm(faults, reference)
    r = ask(reference, tenant, QUESTION)
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] is False and r.json()["sources"]
    assert metric(reference, "ragchaos_retries_total", dependency="chat", reason="rate_limited") == 2.0
    assert metric(reference, "ragchaos_breaker_state", dependency="chat") == 0.0  # 429 is flow control
    stats = httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()
    assert stats["pacing"]["chat"]["pauses"] == 2  # each 429 paused the whole dependency


def test_429_storm_naive_rides_it_out_on_the_sdks_own_retries(start_app, faults, provider) -> None:
    """The naive app keeps the openai SDK's defaults: two retries honouring Retry-After. Two refused
    calls are absorbed by them, and the provider's own count shows the three attempts."""
    naive = start_app("naive")
    tenant = _tenant()
    ingest(naive, tenant)
    assert ask(naive, tenant, QUESTION).status_code == 200
    key = naive.env["RAGCHAOS_PROVIDER_KEY"]
    before = provider_count(provider, key, "chat")
    _storm(faults, naive)
    assert ask(naive, tenant, QUESTION).status_code == 200
    assert provider_count(provider, key, "chat") - before == 3  # refused twice, then answered


def test_429_storm_naive_no_retries_variant_returns_errors(start_app, faults) -> None:
    """The original story's literal "no retries" (RAGCHAOS_NAIVE_VARIANT=no-retries): each refused
    call reaches the user."""
    naive = start_app("naive", env={"RAGCHAOS_NAIVE_VARIANT": "no-retries"})
    tenant = _tenant()
    ingest(naive, tenant)
    assert ask(naive, tenant, QUESTION).status_code == 200
    _storm(faults, naive)
    statuses = [ask(naive, tenant, QUESTION).status_code for _ in range(2)]
    assert all(s >= 500 or s == 429 for s in statuses), statuses
    assert ask(naive, tenant, QUESTION).status_code == 200  # the storm is over: n=2 calls refused


def test_insufficient_quota_is_not_retried(start_app, faults) -> None:
    reference = start_app("reference", env={"RAGCHAOS_DISABLE": "cache"})
    tenant = _tenant()
    ingest(reference, tenant)
    faults.add(kind="insufficient_quota", endpoint="chat", key=reference.env["RAGCHAOS_PROVIDER_KEY"])
    r = ask(reference, tenant, "When is the fog horn tested?")
    assert r.status_code >= 500, r.text
    assert metric(reference, "ragchaos_retries_total", dependency="chat") == 0.0
    assert metric(reference, "ragchaos_breaker_state", dependency="chat") == 0.0  # still closed


def _breakers(app: Any) -> dict[str, Any]:
    return httpx.get(f"{app.url}/_stats/breakers", timeout=10.0).json()["breakers"]


def test_vectordb_down_opens_the_breaker_serves_fallbacks_and_one_probe_closes_it(
    start_app, toxiproxy
) -> None:
    reference = start_app(
        "reference",
        env={
            "RAGCHAOS_BREAKER__FAILURE_THRESHOLD": "2",
            "RAGCHAOS_BREAKER__RESET_TIMEOUT_S": "1.0",
            "RAGCHAOS_RETRY__MAX_ATTEMPTS": "2",
            "RAGCHAOS_DEADLINE__VECTORDB_ATTEMPT_S": "1.0",
        },
    )
    proxies = ToxiproxyClient(toxiproxy.url)
    tenant = _tenant()
    ingest(reference, tenant)
    cached_q = "How often does the keeper log the weather?"
    assert ask(reference, tenant, cached_q).status_code == 200
    proxies.disable(reference.proxies["vectordb"])
    try:
        # new questions need the vector store: fast 503s with Retry-After until the breaker opens
        for i in range(2):
            r = ask(reference, tenant, f"Question {i} about barometer readings number {uuid.uuid4().hex}?")
            assert r.status_code == 503, r.text
            assert "Retry-After" in r.headers and r.headers["X-Degraded"] == "vectordb_unavailable"
        assert _breakers(reference)["vectordb"]["state"] == "open"
        assert metric(reference, "ragchaos_breaker_state", dependency="vectordb") == 2.0
        shed_before = metric(reference, "ragchaos_shed_total", reason="breaker_open")
        r = ask(reference, tenant, f"Yet another question {uuid.uuid4().hex}?")
        assert r.status_code == 503
        assert metric(reference, "ragchaos_shed_total", reason="breaker_open") == shed_before + 1
        # a question answered before is still served, from the cache, without the vector store
        r = ask(reference, tenant, cached_q)
        assert r.status_code == 200 and r.json()["cached"] == "response"
    finally:
        proxies.enable(reference.proxies["vectordb"])
    # after the reset timeout the next call is the single probe; it succeeds and closes the breaker
    r = wait_for(
        lambda: (
            (resp := ask(reference, tenant, f"After recovery {uuid.uuid4().hex}?")).status_code == 200
            and resp
        ),
        "a successful query after recovery",
    )
    assert r.json()["degraded"] is False
    moves = [(t["from_state"], t["to_state"]) for t in _breakers(reference)["vectordb"]["transitions"]]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert (
        metric(reference, "ragchaos_breaker_transitions_total", dependency="vectordb", to="half_open") == 1.0
    )
    assert metric(reference, "ragchaos_breaker_state", dependency="vectordb") == 0.0


def test_a_noisy_tenant_over_quota_gets_429_while_another_tenant_is_served(start_app) -> None:
    reference = start_app(
        "reference",
        env={"RAGCHAOS_QUOTA__OVERRIDES": '{"noisy": {"rate_per_s": 0.05, "burst": 2}}'},
    )
    ingest(reference, "quiet")
    statuses = []
    retry_after = None
    for _ in range(8):
        r = ask(reference, "noisy", "When is the lamp serviced?")
        statuses.append(r.status_code)
        if r.status_code == 429:
            retry_after = r.headers.get("Retry-After")
            assert r.json()["error"]["type"]
    assert statuses[:2] == [200, 200] and statuses.count(429) >= 5, statuses
    assert retry_after is not None and int(retry_after) >= 1
    assert metric(reference, "ragchaos_quota_rejections_total", tenant="noisy") == statuses.count(429)
    for _ in range(3):
        assert ask(reference, "quiet", "When is the lamp serviced?").status_code == 200
    assert metric(reference, "ragchaos_quota_rejections_total", tenant="quiet") == 0.0


def test_the_chat_bulkhead_sheds_at_its_cap(start_app, faults) -> None:
    reference = start_app(
        "reference",
        env={
            "RAGCHAOS_DISABLE": "cache",
            "RAGCHAOS_BULKHEAD__CHAT": "1",
            "RAGCHAOS_BULKHEAD__MAX_WAIT_S": "0",
            "RAGCHAOS_DEADLINE__REQUEST_S": "20",
            "RAGCHAOS_DEADLINE__CHAT_ATTEMPT_S": "15",
        },
    )
    key = reference.env["RAGCHAOS_PROVIDER_KEY"]
    tenant = _tenant()
    ingest(reference, tenant)
    hang = faults.add(kind="hang", endpoint="chat", key=key)  # holds chat calls until removed

    def chat_in_flight() -> int:
        stats = httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()
        return stats["bulkheads"]["chat"]["in_flight"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(ask, reference, tenant, "When is the lamp serviced?")
        wait_for(lambda: chat_in_flight() == 1, "the first query to hold the only chat slot")
        r = ask(reference, tenant, "When is the fog horn tested?")  # the only chat slot is taken
        assert r.status_code == 200, r.text
        assert r.json()["degraded"] == "chat_unavailable"  # retrieval-only fallback, served at once
        assert r.json()["sources"]
        assert metric(reference, "ragchaos_shed_total", reason="bulkhead_chat") == 1.0
        faults.remove(hang)
        assert first.result(timeout=30).status_code == 200


def test_admission_control_sheds_past_max_in_flight(start_app, faults) -> None:
    reference = start_app(
        "reference",
        env={
            "RAGCHAOS_DISABLE": "cache",
            "RAGCHAOS_ADMISSION__MAX_IN_FLIGHT": "1",
            "RAGCHAOS_ADMISSION__MAX_WAIT_S": "0",
            "RAGCHAOS_DEADLINE__REQUEST_S": "20",
            "RAGCHAOS_DEADLINE__CHAT_ATTEMPT_S": "15",
        },
    )
    tenant = _tenant()
    ingest(reference, tenant)
    hang = faults.add(kind="hang", endpoint="chat", key=reference.env["RAGCHAOS_PROVIDER_KEY"])

    def chat_in_flight() -> int:
        return httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()["bulkheads"]["chat"][
            "in_flight"
        ]

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(ask, reference, tenant, QUESTION)
        wait_for(lambda: chat_in_flight() == 1, "the first query to be in flight")
        r = ask(reference, tenant, "When is the fog horn tested?")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["type"] == "overloaded" and int(r.headers["Retry-After"]) >= 1
        assert metric(reference, "ragchaos_shed_total", reason="admission") == 1.0
        faults.remove(hang)
        assert first.result(timeout=30).status_code == 200


def test_a_hanging_provider_is_cut_at_the_request_deadline(start_app, faults) -> None:
    """Never a hang: the chat call is held forever, the answer comes at the deadline, degraded."""
    # finish_late off: here the deadline cuts the call (test_finish_late_... lets it run on)
    reference = start_app(
        "reference", env={"RAGCHAOS_DISABLE": "cache,finish_late", "RAGCHAOS_DEADLINE__REQUEST_S": "3"}
    )
    tenant = _tenant()
    ingest(reference, tenant)
    faults.add(kind="hang", endpoint="chat", key=reference.env["RAGCHAOS_PROVIDER_KEY"])
    started = time.monotonic()
    r = ask(reference, tenant, QUESTION)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] == "chat_unavailable" and r.json()["sources"]
    assert elapsed < 15.0  # a 3 s budget; generous slack for a busy machine, far below "forever"
    # our own deadline cut the call short: not counted against the provider's health
    assert (
        httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()["breakers"]["chat"][
            "consecutive_failures"
        ]
        == 0
    )


def test_finish_late_a_call_past_the_deadline_runs_on_and_its_answer_is_cached(start_app, faults) -> None:
    """The caller gets the fallback at the deadline; the held call, once served, answers the next
    asker from the cache without another provider call."""
    reference = start_app("reference", env={"RAGCHAOS_DEADLINE__REQUEST_S": "2",
                                            "RAGCHAOS_DEADLINE__CHAT_ATTEMPT_S": "60"})
    key = reference.env["RAGCHAOS_PROVIDER_KEY"]
    tenant = _tenant()
    ingest(reference, tenant)
    hang = faults.add(kind="hang", endpoint="chat", key=key)

    def late() -> dict[str, int]:
        return httpx.get(f"{reference.url}/_stats/mechanisms", timeout=10.0).json()["late_chat_calls"]

    first = ask(reference, tenant, QUESTION)
    assert first.status_code == 200 and first.json()["degraded"] == "chat_unavailable", first.text
    assert late() == {"started": 1, "finished": 0}
    chat_calls = metric(reference, "ragchaos_provider_calls_total", endpoint="chat")
    faults.remove(hang)  # the provider now serves the held call
    wait_for(lambda: late()["finished"] == 1, "the late chat call to answer")
    again = ask(reference, tenant, QUESTION)
    assert again.status_code == 200 and again.headers["x-cache"] == "HIT", again.text
    assert not again.json()["degraded"] and again.json()["answer"]
    assert metric(reference, "ragchaos_provider_calls_total", endpoint="chat") == chat_calls + 1  # the late one


def test_pacing_learns_the_providers_limits_from_its_headers(start_app) -> None:
    """Configured with a wrong guess, the chat pacer adopts the real provider's x-ratelimit-limit-*."""
    reference = start_app(
        "reference",
        env={
            "RAGCHAOS_DISABLE": "cache",
            "RAGCHAOS_PACING__CHAT_RPM": "77",
            "RAGCHAOS_PACING__CHAT_TPM": "7777",
        },
    )
    stats = httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()["pacing"]["chat"]
    assert (stats["limit_rpm"], stats["limit_tpm"]) == (77, 7777)
    tenant = _tenant()
    ingest(reference, tenant)
    assert ask(reference, tenant, QUESTION).status_code == 200
    stats = httpx.get(f"{reference.url}/_stats/breakers", timeout=10.0).json()["pacing"]["chat"]
    # the session provider's defaults for chat (ragchaos/provider/config.py): 500 RPM, 200,000 TPM
    assert (stats["limit_rpm"], stats["limit_tpm"]) == (500, 200_000)
    assert stats["waited_s"] == 0.0
