"""Two tenants, twin documents, the same questions: 0 cross-tenant sources, 0 cross-tenant cache hits.

The corpus is the ``tenant-isolation`` scenario's (``twins: true``): every document exists in
both tenants with one fact changed, and both tenants ask identical questions and paraphrases,
so a cache keyed on the question alone, or a search without the tenant filter, would leak.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from ragchaos.kit.chunking import chunk_id, chunk_text
from ragchaos.scenarios.loader import find_scenario, load_scenario
from ragchaos.scenarios.requests import Workbench
from tests.security.isolation import Auditor, attack, probes, seed_documents

QUERIES = {"reference": int(os.environ.get("RAGCHAOS_ISOLATION_QUERIES", "10000")),
           # the naive app has no cache: every query is three dependency calls, so fewer of them
           "naive": int(os.environ.get("RAGCHAOS_ISOLATION_QUERIES_NAIVE", "400"))}

pytestmark = pytest.mark.slow


def _corpus():
    scenario = load_scenario(find_scenario("tenant-isolation"))
    assert scenario.corpus.twins
    return Workbench(scenario).corpus


def test_twin_corpus_is_adversarial() -> None:
    corpus = _corpus()
    a, b = corpus.tenants
    docs_a, docs_b = corpus.documents_for(a), corpus.documents_for(b)
    assert len(docs_a) == len(docs_b) >= 10
    for da, db in zip(docs_a, docs_b, strict=True):
        assert da.facts[0].value != db.facts[0].value and da.facts[1:] == db.facts[1:]
        assert da.text.replace(da.facts[0].value, db.facts[0].value, 1) == db.text
    texts = {t: sorted(p.text for p in probes(corpus) if p.tenant == t) for t in corpus.tenants}
    assert texts[a] == texts[b]  # the very same questions


def test_auditor_catches_the_other_tenants_chunk_and_fact() -> None:
    """The negative control: the audit flags exactly what a leak would look like."""
    corpus = _corpus()
    a, b = corpus.tenants
    auditor = Auditor(corpus)
    doc_a, doc_b = corpus.documents_for(a)[0], corpus.documents_for(b)[0]
    src = {t: {"doc_id": d.doc_id, "chunk_id": chunk_id(t, d.doc_id, chunk_text(d.text)[0].text), "score": 0.9}
           for t, d in ((a, doc_a), (b, doc_b))}
    assert auditor.foreign_sources(a, {"sources": [src[a]]}) == []
    assert auditor.foreign_sources(a, {"sources": [src[a], src[b]]}) == [src[b]]
    # the same document id text under the other tenant's name is not ours either
    assert auditor.foreign_sources(a, {"sources": [{**src[b], "doc_id": doc_a.doc_id}]})
    assert not auditor.foreign_fact(a, {"answer": doc_a.facts[0].sentence()})
    assert auditor.foreign_fact(a, {"answer": "As stated, " + doc_b.facts[0].sentence()})


@pytest.mark.parametrize("kind", ["reference", "naive"])
def test_no_cross_tenant_sources_or_cache_hits(start_app, provider, kind: str) -> None:
    # caches on (the default); quotas, admission and bulkheads off: one client is both tenants
    # at full speed, and shedding is not what this test is about
    env = {"RAGCHAOS_DISABLE": "quotas,admission,bulkhead"} if kind == "reference" else {}
    app = start_app(kind, env=env)
    corpus = _corpus()

    async def run():
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=app.url, timeout=60, limits=limits) as client:
            await seed_documents(client, corpus)
            return await attack(client, corpus, QUERIES[kind])

    # the provider's rate limits are not under test here (and the naive app, with no cache and
    # no pacing, would turn them into 502s): off for this session's provider, on again after
    httpx.put(f"{provider.url}/_control/limits", json={"enforced": False}).raise_for_status()
    try:
        audit = asyncio.run(run())
    finally:
        httpx.put(f"{provider.url}/_control/limits", json={"enforced": True}).raise_for_status()
    print(f"\n{kind}: queries={audit.queries} statuses={dict(audit.statuses)} x_cache={dict(audit.x_cache)} "
          f"errors={dict(audit.errors)} cross_tenant_sources={audit.cross_tenant_sources} foreign_facts={audit.foreign_facts} "
          f"cross_tenant_cache_hits={audit.cross_tenant_cache_hits}")
    assert audit.queries == QUERIES[kind]
    # the only other answer allowed: the documented fast 503 (a guard's deadline on a busy machine)
    assert audit.statuses[200] >= 0.99 * audit.queries, (dict(audit.statuses), dict(audit.errors))
    assert set(audit.errors) <= {"dependency_unavailable", "overloaded"}, dict(audit.errors)
    assert audit.leaks == []
    assert audit.cross_tenant_sources == audit.foreign_facts == audit.cross_tenant_cache_hits == 0
    if kind == "reference":
        # the caches were really in play: most answers came from them, including semantic ones
        assert audit.x_cache["HIT"] >= audit.queries // 10, dict(audit.x_cache)
        assert audit.x_cache["SEMANTIC"] > 0, dict(audit.x_cache)
