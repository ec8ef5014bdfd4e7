"""Two reference replicas as separate processes sharing state through the real Redis.

What the Redis-backed reference app (ragchaos/reference_app/shared/) promises a fleet: a cache miss on
one replica is a hit on the next; a job accepted by one replica is indexed by another and its
state readable on any; a replica killed with SIGKILL in the middle of a job loses nothing (the
job is claimed by another replica's worker and completed, each chunk stored once); a tenant's
quota is one budget for the fleet. Replicas of one fleet share the collection prefix, hence
the Redis namespace; a second ``reference_fleet(1, env=...)`` call with the first's
``RAGCHAOS_COLLECTION_PREFIX`` joins a replica with its own settings to the same fleet.
"""

from __future__ import annotations

import time
import uuid

import chromadb
import httpx
import pytest
import redis

from ragchaos.kit.chunking import chunk_text
from ragchaos.stack.local import Endpoint
from tests.apps.corpus import document

pytestmark = [pytest.mark.slow, pytest.mark.redis]

DOC = (
    "The harbour master opens the north lock at six each morning. Ships longer than ninety metres "
    "need a pilot, and the pilot boat leaves from the east quay. " * 3
)
QUESTION = "When does the north lock open?"


def _tenant() -> str:
    return "t" + uuid.uuid4().hex[:10]


def _submit(url: str, tenant: str, doc_id: str = "harbour", text: str = DOC) -> str:
    r = httpx.post(f"{url}/v1/documents", json={"tenant": tenant, "doc_id": doc_id, "text": text}, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def _wait_job(url: str, job: str, states: tuple[str, ...] = ("done", "failed"), timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{url}/v1/jobs/{job}", timeout=10)
        assert r.status_code == 200, r.text
        if r.json()["state"] in states:
            return r.json()
        assert time.monotonic() < deadline, f"job {job} still {r.json()}"
        time.sleep(0.1)


def _query(url: str, tenant: str) -> httpx.Response:
    r = httpx.post(f"{url}/v1/query", json={"tenant": tenant, "question": QUESTION}, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _redis_keys(redis_url: str, pattern: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=pattern))
    finally:
        client.close()


def test_a_miss_on_a_is_a_hit_on_b_and_an_ingest_on_b_invalidates_a(reference_fleet, redis_url: str) -> None:
    fleet = reference_fleet(2)
    a, b = fleet.replicas
    tenant = _tenant()
    job = _submit(a.url, tenant)
    assert _wait_job(b.url, job)["state"] == "done"  # job state is readable on either replica

    first = _query(a.url, tenant)
    assert first.headers["x-cache"] == "MISS"
    assert [s["doc_id"] for s in first.json()["sources"]][:1] == ["harbour"]
    # A writes the answer to Redis behind its response: wait until it is there, then ask B once
    deadline = time.monotonic() + 10
    while not _redis_keys(redis_url, f"ragchaos:{fleet.name}:cache:response:*"):
        assert time.monotonic() < deadline, "A's answer never reached Redis"
        time.sleep(0.05)
    second = _query(b.url, tenant)
    assert second.headers["x-cache"] == "HIT", second.headers
    assert second.json()["answer"] == first.json()["answer"] and second.json()["cached"] == "response"

    # a new document through B bumps the tenant's corpus version in Redis: A's cached answer
    # (in A's own memory as well as in Redis) is not served any more
    job2 = _submit(b.url, tenant, "pilots", "Pilots are booked through the harbour office two hours ahead.")
    assert _wait_job(a.url, job2)["state"] == "done"
    third = _query(a.url, tenant)
    assert third.headers["x-cache"] == "MISS", third.headers


def test_a_paraphrase_on_b_is_a_semantic_hit_on_as_answer(reference_fleet, redis_url: str) -> None:
    # threshold 0: any vector of the partition that is not opposed matches, so the test does not
    # depend on how close the provider's embeddings of two paraphrases are; the partition (tenant,
    # corpus version, ...) and the lexical guard still apply
    fleet = reference_fleet(2, env={"RAGCHAOS_SEMANTIC_THRESHOLD": "0"})
    a, b = fleet.replicas
    tenant = _tenant()
    assert _wait_job(a.url, _submit(a.url, tenant))["state"] == "done"
    first = _query(a.url, tenant)
    assert first.headers["x-cache"] == "MISS"
    deadline = time.monotonic() + 10
    while not _redis_keys(redis_url, f"ragchaos:{fleet.name}:semantic:{tenant}:*"):
        assert time.monotonic() < deadline, "A's semantic entry never reached Redis"
        time.sleep(0.05)
    r = httpx.post(f"{b.url}/v1/query", json={"tenant": tenant, "question": "At what time is the north lock opened?"},
                   timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["x-cache"].startswith("SEMANTIC"), r.headers
    assert r.json()["answer"] == first.json()["answer"] and r.json()["cached"] == "semantic"
    other = httpx.post(f"{b.url}/v1/query", json={"tenant": _tenant(), "question": QUESTION}, timeout=30)
    assert other.status_code == 200 and other.headers["x-cache"] == "MISS"  # another tenant: never


def test_a_job_accepted_by_a_is_indexed_by_a_worker_of_b(reference_fleet) -> None:
    fleet_a = reference_fleet(1, env={"RAGCHAOS_INGEST_WORKERS": "0"})  # A only accepts jobs
    (a,) = fleet_a.replicas
    (b,) = reference_fleet(1, env={"RAGCHAOS_COLLECTION_PREFIX": fleet_a.name}).replicas
    tenant = _tenant()
    job = _submit(a.url, tenant)
    status = _wait_job(a.url, job)  # asked on A, which has no worker: B did it
    assert status["state"] == "done" and status["attempts"] == 1 and status["chunks"] == len(chunk_text(DOC))
    assert _wait_job(b.url, job) == status
    r = _query(a.url, tenant)
    assert [s["doc_id"] for s in r.json()["sources"]][:1] == ["harbour"]


def test_a_job_of_a_replica_killed_mid_job_is_redelivered_and_stored_once(
    reference_fleet, provider: Endpoint, chroma: Endpoint
) -> None:
    env = {"RAGCHAOS_INGEST_CLAIM_IDLE_S": "2", "RAGCHAOS_INGEST_WORKERS": "1"}
    faults = f"{provider.url}/_control/faults"
    fault = httpx.post(faults, json={"kind": "hang", "endpoint": "embeddings", "key": "reference"},
                       timeout=10).json()["id"]
    try:
        fleet_a = reference_fleet(1, env=env)
        (a,) = fleet_a.replicas
        tenant = _tenant()
        job = _submit(a.url, tenant)
        _wait_job(a.url, job, ("running",), timeout=30)  # A's worker is in the embeddings call, held
        fleet_a.processes[0].kill()  # SIGKILL: no shutdown, the stream entry stays pending
        assert not fleet_a.processes[0].alive()
    finally:
        httpx.delete(f"{faults}/{fault}", timeout=10)
    (b,) = reference_fleet(1, env={**env, "RAGCHAOS_COLLECTION_PREFIX": fleet_a.name}).replicas
    status = _wait_job(b.url, job, timeout=90)
    expected = len(chunk_text(DOC))
    assert status["state"] == "done" and status["attempts"] == 2 and status["chunks"] == expected, status

    client = chromadb.HttpClient(host=chroma.host, port=chroma.port)
    got = client.get_collection(f"{fleet_a.name}_chunks").get(
        where={"$and": [{"tenant": tenant}, {"doc_id": "harbour"}]}, include=["metadatas"]
    )
    indexes = sorted(m["chunk_index"] for m in got["metadatas"])
    assert len(got["ids"]) == len(set(got["ids"])) == expected and indexes == list(range(expected))


def test_a_tenant_quota_is_one_budget_across_both_replicas(reference_fleet) -> None:
    burst, rate = 5, 0.2
    fleet = reference_fleet(2, env={"RAGCHAOS_QUOTA__BURST": str(burst), "RAGCHAOS_QUOTA__RATE_PER_S": str(rate)})
    a, b = fleet.replicas
    tenant = _tenant()
    admitted = {a.port: 0, b.port: 0}
    refused = 0
    t0 = time.monotonic()
    with httpx.Client(timeout=30) as c:
        for i in range(24):
            replica = (a, b)[i % 2]
            r = c.post(f"{replica.url}/v1/query", json={"tenant": tenant, "question": QUESTION})
            if r.status_code == 429:
                refused += 1
                assert r.json()["error"]["type"] == "quota_exceeded" and int(r.headers["retry-after"]) >= 1
            else:
                assert r.status_code == 200, r.text
                admitted[replica.port] += 1
    elapsed = time.monotonic() - t0
    total = sum(admitted.values())
    assert total >= burst and refused > 0
    # one bucket for the fleet: the burst plus what refilled while we were asking (per-replica
    # buckets would have admitted 2 x burst = 10, beyond this bound unless elapsed > 20 s)
    assert total <= burst + rate * elapsed + 1, (admitted, elapsed)


def test_an_ingest_that_cannot_change_an_answer_keeps_it_cached_for_the_fleet(reference_fleet, redis_url: str) -> None:
    """Revalidation across replicas: A indexes an unrelated document and re-keys the answer it
    holds under the new corpus version, in Redis too, so B (which did not compute the answer and
    has no worker) still gets it from the cache after the version moved. Only the replica that
    indexes carries, and only what it holds itself (README, scale-out)."""
    fleet_a = reference_fleet(1)  # A answers and indexes
    (a,) = fleet_a.replicas
    (b,) = reference_fleet(1, env={"RAGCHAOS_COLLECTION_PREFIX": fleet_a.name, "RAGCHAOS_INGEST_WORKERS": "0"}).replicas
    tenant = _tenant()
    refunds = document("refunds", 5, 1)  # five chunks about one topic: the question's top 4 is full
    assert _wait_job(a.url, _submit(a.url, tenant, "refunds", refunds))["state"] == "done"
    question = "What is the refund policy for returns within thirty days?"

    def ask(url: str) -> httpx.Response:
        r = httpx.post(f"{url}/v1/query", json={"tenant": tenant, "question": question}, timeout=30)
        assert r.status_code == 200, r.text
        return r

    first = ask(a.url)
    assert first.headers["x-cache"] == "MISS" and len(first.json()["sources"]) == 4
    pattern = f"ragchaos:{fleet_a.name}:cache:response:*"
    deadline = time.monotonic() + 10
    while len(_redis_keys(redis_url, pattern)) < 1:
        assert time.monotonic() < deadline, "A's answer never reached Redis"
        time.sleep(0.05)
    job = _submit(b.url, tenant, "lighthouse", document("lighthouse", 2, 3))  # accepted by B, indexed by A
    assert _wait_job(b.url, job)["state"] == "done"
    kept = httpx.get(f"{a.url}/metrics", timeout=10).text
    assert 'ragchaos_cache_carried_total{layer="response",result="kept"} 1.0' in kept
    deadline = time.monotonic() + 10
    while len(_redis_keys(redis_url, pattern)) < 2:  # the same answer under the new version too
        assert time.monotonic() < deadline, "A's carried answer never reached Redis"
        time.sleep(0.05)
    again = ask(b.url)  # B's first question after the version moved: from the cache, not computed
    assert again.headers["x-cache"] == "HIT", again.headers
    assert again.json()["sources"] == first.json()["sources"]
