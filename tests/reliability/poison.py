"""A poison-ingest run against one reference app: good documents, a share of poison, a transient
provider fault window, optionally a SIGKILL in the middle; then replay after the cause is gone.

Used by tests/scaleout/test_poison_ingest.py (a few hundred documents, both queue modes) and by
benchmarks/bench_poison_ingest.py (1,000 documents, freshness with and without poison).

* A poison document is an ordinary one with a 40,000-character token in it (a pasted base64
  blob): its chunk is ~10,000 tokens, over the embedding model's 8,192, so the provider answers
  its real 400. Nothing about it is special to our app.
* The fault window is counted, not timed: a 503 fault on the app's embeddings calls is added
  before the first document and removed once ``fault_until`` documents have been accepted and
  the queue has retried at least one job because of it (its own retries inside the provider
  guard may outlast a short window; the window must reach the queue to test it).
* ``kill_at``: SIGKILL the app once that many documents were accepted, start it again, send again
  what was not accepted.
* Replay: the provider's input limit is raised (``PUT /_control/input-limit``), every dead
  letter replayed through the admin API, and the limit put back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from ragchaos.stack.local import AppHandle, Endpoint
from tests.reliability.storm import Doc, Ledger, small_document, stored_chunks, storm

POISON_BLOB = "QUJD" * 10_000  # 40,000 characters, one "word": one chunk over 8,192 tokens
LIMIT = 8192


def documents(tenant: str, n: int, poison_share: float) -> tuple[list[Doc], set[str]]:
    every = round(1 / poison_share) if poison_share > 0 else 0
    docs, poison = [], set()
    for i in range(n):
        text = small_document(i)
        if every and i % every == every // 2:
            text = f"{text} {POISON_BLOB}"
            poison.add(f"d{i}")
        docs.append(Doc(tenant, f"d{i}", text))
    return docs, poison


@dataclass
class PoisonRun:
    documents: int
    poison: set[str]
    accepted: int = 0
    killed_with: dict[str, Any] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    good_not_done: list[str] = field(default_factory=list)
    dead: dict[str, str] = field(default_factory=dict)  # doc_id -> error, from the admin API
    lost_in_store: list[str] = field(default_factory=list)  # good docs whose chunks are not in Chroma
    retried: float = 0.0
    good_retries: int = 0  # good documents' failed attempts (attempts - 1 of each done good job)
    freshness_s: list[float] = field(default_factory=list)  # good docs: accepted -> done
    replayed_done: int = 0
    seconds: float = 0.0

    def freshness(self, q: float) -> float:
        return float(np.quantile(self.freshness_s, q)) if self.freshness_s else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"documents": self.documents, "poison": len(self.poison), "accepted": self.accepted,
                "refused_at_submit": self.documents - self.accepted,
                "states": dict(self.states), "good_not_done": len(self.good_not_done),
                "dead_lettered": len(self.dead), "lost_in_store": len(self.lost_in_store),
                "retried": self.retried, "good_retries": self.good_retries, "replayed_done": self.replayed_done,
                "freshness_p50_s": round(self.freshness(0.5), 3), "freshness_p99_s": round(self.freshness(0.99), 3),
                "killed_with": self.killed_with, "seconds": round(self.seconds, 1)}


def _metric(app: AppHandle, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{app.url}/metrics", timeout=10.0).text
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def _wait(check: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _settle(app: AppHandle, jobs: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll each job until it is done or a dead letter (bounded)."""
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=app.url, timeout=10.0) as c:
        while len(final) < len(jobs):
            for doc_id, job in jobs.items():
                if doc_id not in final:
                    body = c.get(f"/v1/jobs/{job}").json()
                    if body["state"] in ("done", "failed"):
                        final[doc_id] = body
            if len(final) < len(jobs):
                assert time.monotonic() < deadline, f"{len(jobs) - len(final)} jobs not settled in {timeout} s"
                time.sleep(0.2)
    return final


def run(
    app: AppHandle, provider: Endpoint, chroma: Endpoint, tenant: str, *, n_docs: int, poison_share: float,
    fault_until: int, kill_at: int | None = None, replay: bool = True, timeout: float = 300.0,
    queue_states: Any = None,
) -> PoisonRun:
    docs, poison = documents(tenant, n_docs, poison_share)
    result = PoisonRun(n_docs, poison)
    faults = f"{provider.url}/_control/faults"
    fault: list[str] = [httpx.post(faults, json={"kind": "error", "status": 503, "endpoint": "embeddings",
                                                 "key": app.key}, timeout=10).json()["id"]]
    ledger = Ledger()
    killed: list[bool] = []
    retried_before_kill: list[float] = []

    def end_fault() -> None:
        if fault and _metric(app, "ragchaos_ingest_jobs_total", outcome="retried") > 0:
            httpx.delete(f"{faults}/{fault.pop()}", timeout=10)

    def on_accepted(n: int) -> None:
        if n >= fault_until and fault and (kill_at is None or n < kill_at):
            end_fault()
        if kill_at is not None and n >= kill_at and not killed:
            killed.append(True)
            _wait(lambda: (end_fault(), not fault)[1], "a queue-level retry in the fault window")
            retried_before_kill.append(_metric(app, "ragchaos_ingest_jobs_total", outcome="retried"))
            app.kill()  # SIGKILL: no shutdown code runs

    t0 = time.monotonic()
    try:
        asyncio.run(storm(app.url, docs, ledger, on_accepted=on_accepted, concurrency=16))
        _wait(lambda: (end_fault(), not fault)[1] or killed, "a queue-level retry in the fault window")
        if killed:
            result.killed_with = queue_states() if queue_states is not None else {"accepted": len(ledger.accepted)}
            app.start_again()
            asyncio.run(storm(app.url, [d for d in docs if d.doc_id not in ledger.accepted], ledger, concurrency=16))
    finally:
        if fault:
            httpx.delete(f"{faults}/{fault.pop()}", timeout=10)
    result.accepted = len(ledger.accepted)
    final = _settle(app, ledger.accepted, timeout)
    result.seconds = time.monotonic() - t0
    result.states = Counter(b["state"] for b in final.values())
    result.good_not_done = sorted(d for d, b in final.items() if d not in poison and b["state"] != "done")
    result.freshness_s = [b["finished_at"] - b["accepted_at"] for d, b in final.items()
                          if d not in poison and b["state"] == "done"]
    result.good_retries = sum(b["attempts"] - 1 for d, b in final.items() if d not in poison and b["state"] == "done")
    # the counter is per process: what the killed one counted, plus the one now running
    result.retried = sum(retried_before_kill) + _metric(app, "ragchaos_ingest_jobs_total", outcome="retried")
    with httpx.Client(base_url=app.url, timeout=30.0) as c:
        listing = c.get("/admin/ingest/dead-letters", params={"limit": 10_000}).json()
        result.dead = {item["doc_id"]: item["error"] for item in listing["items"]}
    by_id = {d.doc_id: d for d in docs}
    stored: dict[str, set[str]] = {}
    for cid, doc_id in stored_chunks(chroma, f"{app.name}_chunks", tenant):
        stored.setdefault(doc_id, set()).add(cid)
    # accepted (answered 202) good documents whose chunks are not all in Chroma: a refused post
    # (a timeout on a loaded machine) was never the app's to keep
    result.lost_in_store = sorted(d for d in ledger.accepted if d not in poison and stored.get(d) != by_id[d].chunk_ids())
    if replay and result.dead:
        result.replayed_done = _replay(app, provider, {d: ledger.accepted[d] for d in result.dead}, timeout)
    return result


def _replay(app: AppHandle, provider: Endpoint, jobs: dict[str, str], timeout: float) -> int:
    limit = f"{provider.url}/_control/input-limit"
    httpx.put(limit, json={"max_input_tokens": 4 * LIMIT}, timeout=10).raise_for_status()  # the cause removed
    try:
        with httpx.Client(base_url=app.url, timeout=30.0) as c:
            replayed = c.post("/admin/ingest/dead-letters/replay").json()["replayed"]
            assert sorted(replayed) == sorted(jobs.values()), (replayed, jobs)
        final = _settle(app, jobs, timeout)
        return sum(b["state"] == "done" for b in final.values())
    finally:
        httpx.put(limit, json={"max_input_tokens": LIMIT}, timeout=10)
