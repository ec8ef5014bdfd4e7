"""Two reference replicas as separate processes, wired like one service (tests/scaleout/conftest.py).

What holds today, before the Redis-backed state: both replicas start and are ready with
``REDIS_URL`` set, they share one vector store (a document ingested through A is found through
B), and each keeps its own breaker (a replica's view of its own dependencies). The Redis-backed
caches, queue and quotas add their cross-replica tests on this fixture.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.slow, pytest.mark.redis]

DOC = (
    "The harbour master opens the north lock at six each morning. Ships longer than ninety metres "
    "need a pilot, and the pilot boat leaves from the east quay."
)


def _metric(url: str, name: str, **labels: str) -> list[float]:
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def _ingest(url: str, tenant: str) -> None:
    with httpx.Client(base_url=url, timeout=30.0) as c:
        r = c.post("/v1/documents", json={"tenant": tenant, "doc_id": "harbour", "text": DOC})
        assert r.status_code in (200, 202), r.text
        if r.status_code == 202:
            job = r.json()["job_id"]
            deadline = time.monotonic() + 60
            while (state := c.get(f"/v1/jobs/{job}").json()["state"]) not in ("done", "failed"):
                assert time.monotonic() < deadline, f"job {job} still {state}"
                time.sleep(0.1)
            assert state == "done"


def test_two_replicas_share_the_vector_store_and_keep_their_own_breakers(reference_fleet) -> None:
    fleet = reference_fleet(2)
    a, b = fleet.replicas
    assert a.port != b.port and len({p.pid for p in fleet.processes}) == 2
    for replica in (a, b):
        assert httpx.get(f"{replica.url}/readyz", timeout=10).status_code == 200

    tenant = "t" + uuid.uuid4().hex[:10]
    _ingest(a.url, tenant)
    r = httpx.post(f"{b.url}/v1/query", json={"tenant": tenant, "question": "When does the north lock open?"},
                   timeout=30)
    assert r.status_code == 200, r.text
    assert [s["doc_id"] for s in r.json()["sources"]][:1] == ["harbour"]

    # breaker state is per replica: each exposes its own gauge, both closed (0) here
    for replica in (a, b):
        values = _metric(replica.url, "ragchaos_breaker_state")
        assert values and all(v == 0 for v in values), values


def test_a_fleet_is_stopped_with_its_test(reference_fleet) -> None:
    fleet = reference_fleet(2)
    procs, ports = fleet.processes, [e.port for e in fleet.replicas]
    assert all(p.alive() for p in procs)
    for p in procs:  # what the fixture does at teardown, checked here
        p.stop()
    assert not any(p.alive() for p in procs)
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def _ask(url: str, tenant: str, question: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/query", json={"tenant": tenant, "question": question}, timeout=30)


@contextlib.contextmanager
def _replica_a_cut_off_from_the_vector_store(reference_fleet, toxiproxy, **env: str) -> Iterator[tuple[Any, Any, str]]:
    """Two replicas with their own proxies; A loses its path to the vector store and two of its
    queries fail (503), which opens A's breaker (threshold 2, open for the whole test)."""
    from ragchaos.faults.client import ToxiproxyClient

    fleet = reference_fleet(2, own_proxies=True, env={
        **env,
        "RAGCHAOS_BREAKER__FAILURE_THRESHOLD": "2",
        "RAGCHAOS_BREAKER__RESET_TIMEOUT_S": "60",  # stays open for the whole test
        "RAGCHAOS_RETRY__MAX_ATTEMPTS": "2",
        "RAGCHAOS_DEADLINE__VECTORDB_ATTEMPT_S": "1.0",
    })
    (a, b), (a_proxies, _) = fleet.replicas, fleet.proxies
    tenant = "t" + uuid.uuid4().hex[:10]
    _ingest(a.url, tenant)
    proxies = ToxiproxyClient(toxiproxy.url)
    proxies.disable(a_proxies["vectordb"])
    try:
        for i in range(2):
            r = _ask(a.url, tenant, f"Where does the pilot boat leave from, question {i} {uuid.uuid4().hex}?")
            assert r.status_code == 503, r.text
        yield a, b, tenant
    finally:
        proxies.enable(a_proxies["vectordb"])


def test_one_replicas_network_trouble_opens_only_its_own_breaker(reference_fleet, toxiproxy) -> None:
    """docs/scale-out.md: breaker state stays per replica. Replica A loses its path to the
    vector store; A's breaker opens and A sheds, while B keeps answering with its breaker closed."""
    with _replica_a_cut_off_from_the_vector_store(reference_fleet, toxiproxy) as (a, b, tenant):
        assert _metric(a.url, "ragchaos_breaker_state", dependency="vectordb") == [2.0]  # open
        r = _ask(b.url, tenant, f"Where does the pilot boat leave from {uuid.uuid4().hex}?")
        assert r.status_code == 200, r.text
        assert [s["doc_id"] for s in r.json()["sources"]][:1] == ["harbour"]
        assert _metric(b.url, "ragchaos_breaker_state", dependency="vectordb") == [0.0]  # closed
        assert _metric(b.url, "ragchaos_breaker_transitions_total", dependency="vectordb", to="open") in ([], [0.0])


def test_in_fleet_scope_one_replicas_failures_open_the_breaker_for_both(reference_fleet, toxiproxy) -> None:
    """The same trouble with ``RAGCHAOS_BREAKER_SCOPE=fleet`` (docs/scale-out.md, "When to choose
    fleet scope"): the breaker state is in Redis, so B, whose own path is fine, fails fast too."""
    with _replica_a_cut_off_from_the_vector_store(reference_fleet, toxiproxy,
                                                  RAGCHAOS_BREAKER_SCOPE="fleet") as (_, b, tenant):
        r = _ask(b.url, tenant, f"Where does the pilot boat leave from {uuid.uuid4().hex}?")
        assert r.status_code == 503, r.text
        assert _metric(b.url, "ragchaos_shed_total", reason="breaker_open") == [1.0]
        assert _metric(b.url, "ragchaos_breaker_state", dependency="vectordb") == [2.0]  # open, seen from Redis
        stats = httpx.get(f"{b.url}/_stats/breakers", timeout=10).json()["breakers"]["vectordb"]
        assert stats["scope"] == "fleet" and stats["state"] == "open"
