"""The tenant-isolation attack: twin corpora, identical questions, many queries, every answer audited.

Used by test_tenant_isolation.py and benchmarks-style figures. A response leaks when it cites a
chunk that is not its own tenant's (chunk ids hash the tenant in), names a document of the other
tenant, or states the other tenant's version of the one fact that differs. A cache hit (X-Cache
``HIT``/``SEMANTIC``) on the first question a tenant ever sends with that meaning (question id)
can only have come from someone else's entry, so it counts as a cross-tenant cache hit.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import httpx

from ragchaos.kit.chunking import chunk_id, chunk_text
from ragchaos.scenarios.corpus import _PARAPHRASES, _PLAIN, Corpus

__all__ = ["Audit", "Auditor", "Probe", "attack", "probes", "seed_documents"]


@dataclass(frozen=True)
class Probe:
    tenant: str
    qid: str  # the meaning: (document index, fact index); paraphrases share it
    text: str


@dataclass
class Audit:
    queries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    x_cache: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    cross_tenant_sources: int = 0
    foreign_facts: int = 0
    cross_tenant_cache_hits: int = 0
    leaks: list[str] = field(default_factory=list)


def probes(corpus: Corpus) -> list[Probe]:
    """Every question (plain and paraphrased) about every fact, for every tenant: the same texts."""
    out = []
    for tenant in corpus.tenants:
        for d, doc in enumerate(corpus.documents_for(tenant)):
            for f, fact in enumerate(doc.facts):
                for template in _PLAIN + _PARAPHRASES:
                    out.append(Probe(tenant, f"{d}:{f}", template.format(attr=fact.attribute, entity=fact.entity)))
    return out


def _own_chunks(corpus: Corpus) -> dict[str, set[str]]:
    return {t: {chunk_id(t, d.doc_id, c.text) for d in corpus.documents_for(t) for c in chunk_text(d.text)}
            for t in corpus.tenants}


def _differing_sentences(corpus: Corpus) -> dict[str, set[str]]:
    """Per tenant, the first-fact sentences only that tenant's documents state."""
    mine = {t: {d.facts[0].sentence() for d in corpus.documents_for(t)} for t in corpus.tenants}
    return {t: mine[t] - set().union(*(mine[o] for o in corpus.tenants if o != t)) for t in corpus.tenants}


async def seed_documents(client: httpx.AsyncClient, corpus: Corpus) -> None:
    jobs = []
    for doc in corpus.documents:
        r = await client.post("/v1/documents", json=doc.body())
        assert r.status_code in (200, 202), r.text
        if r.status_code == 202:
            jobs.append(r.json()["job_id"])
    for job in jobs:
        for _ in range(600):
            state = (await client.get(f"/v1/jobs/{job}")).json()["state"]
            if state in ("done", "failed"):
                assert state == "done", job
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"job {job} never finished")


class Auditor:
    """What in one answer is not its tenant's own."""

    def __init__(self, corpus: Corpus) -> None:
        self.own = _own_chunks(corpus)
        self.theirs = {t: set().union(*(self.own[o] for o in corpus.tenants if o != t)) for t in corpus.tenants}
        differing = _differing_sentences(corpus)
        self.foreign_sentences = {t: set().union(*(s for o, s in differing.items() if o != t))
                                  for t in corpus.tenants}

    def foreign_sources(self, tenant: str, body: dict) -> list[dict]:
        return [s for s in body["sources"]
                if s["chunk_id"] in self.theirs[tenant] or s["chunk_id"] not in self.own[tenant]
                or not s["doc_id"].startswith(f"{tenant}-")]

    def foreign_fact(self, tenant: str, body: dict) -> bool:
        return any(sentence.rstrip(".") in body["answer"] for sentence in self.foreign_sentences[tenant])


async def attack(client: httpx.AsyncClient, corpus: Corpus, queries: int, *, concurrency: int = 32,
                 seed: int = 23) -> Audit:
    """Send ``queries`` questions drawn (seeded) from ``probes``, both tenants interleaved."""
    rng = random.Random(seed)
    pool = probes(corpus)
    plan = [rng.choice(pool) for _ in range(queries)]
    auditor = Auditor(corpus)
    audit = Audit()
    asked: set[tuple[str, str]] = set()  # (tenant, qid) sent before: a hit on a new one is foreign
    todo = iter(plan)

    async def worker() -> None:
        for probe in todo:
            first = (probe.tenant, probe.qid) not in asked
            asked.add((probe.tenant, probe.qid))
            r = await client.post("/v1/query", json={"tenant": probe.tenant, "question": probe.text})
            audit.queries += 1
            audit.statuses[r.status_code] += 1
            if r.status_code != 200:
                audit.errors[r.json().get("error", {}).get("type", "?")] += 1
                continue
            x_cache = r.headers.get("x-cache", "").split(";")[0]
            audit.x_cache[x_cache] += 1
            body = r.json()
            for s in auditor.foreign_sources(probe.tenant, body):
                audit.cross_tenant_sources += 1
                audit.leaks.append(f"{probe} cited {s}")
            if auditor.foreign_fact(probe.tenant, body):
                audit.foreign_facts += 1
                audit.leaks.append(f"{probe} answered {body['answer'][:200]!r}")
            if first and x_cache in ("HIT", "SEMANTIC"):
                audit.cross_tenant_cache_hits += 1
                audit.leaks.append(f"{probe} first ask was a cache {x_cache}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return audit
