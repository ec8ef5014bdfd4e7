"""The corpus and question generator: deterministic across processes, questions answerable."""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys

from ragchaos.scenarios.corpus import Corpus, QueryMix, zipf_cdf

_DUMP = """
import json, random
from ragchaos.scenarios.corpus import Corpus, QueryMix
c = Corpus.generate(11, ["acme", "globex"], 20)
m = QueryMix(c, 300, zipf_s=1.0, paraphrase_rate=0.3, negation_rate=0.1)
rng = random.Random("11:test")
print(json.dumps({"docs": [d.text for d in c.documents], "new": c.new_document("acme", 5).text,
                  "qs": [[q.text, q.source_doc_id, q.variant] for q in (m.next(rng) for _ in range(300))]}))
"""


def _dump(hashseed: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _DUMP], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def test_same_seed_same_corpus_in_two_processes() -> None:
    a, b = _dump("1"), _dump("2")  # different hash seeds: nothing may depend on hash()
    assert a == b
    assert len(a["docs"]) == 40 and len({q[0] for q in a["qs"]}) > 50


def test_another_seed_another_corpus() -> None:
    a = Corpus.generate(1, ["acme"], 5)
    b = Corpus.generate(2, ["acme"], 5)
    assert [d.text for d in a.documents] != [d.text for d in b.documents]


def test_documents_carry_metadata_and_questions_share_words_with_their_source() -> None:
    c = Corpus.generate(3, ["acme", "globex", "initech"], 30)
    for d in c.documents:
        assert d.body()["tenant"] == d.tenant and d.metadata["type"] in d.title.lower().replace(" ", "-")
        assert len(d.metadata["date"]) == 10
    for tenant, pool in c.questions(500).items():
        for q in pool:
            doc = c.document(q.source_doc_id)
            assert doc.tenant == tenant
            fact_words = {w.strip(".?,").lower() for w in q.text.split()}
            doc_words = {w.strip(".?,").lower() for w in doc.text.split()}
            entity = doc.facts[0].entity.split()[0].lower()
            assert entity in fact_words and entity in doc_words
            # the entity name is in no other document: retrieval has one right answer
            assert sum(entity in d.text.lower() for d in c.documents) == 1


def test_at_least_500_distinct_questions_with_zipf_popularity() -> None:
    c = Corpus.generate(5, ["acme", "globex", "initech"], 40)
    m = QueryMix(c, 600, zipf_s=1.0)
    assert m.distinct == 600 and len({q.text for p in m.pools.values() for q in p}) == 600
    rng = random.Random("zipf")
    counts = collections.Counter(m.next(rng, tenant="acme").qid for _ in range(20000))
    ranked = [n for _, n in counts.most_common()]
    # Zipf s=1 over 200: rank 1 has 1/H(200) ~ 17%, rank 2 about half of that
    assert 0.14 < ranked[0] / 20000 < 0.20
    assert 1.6 < ranked[0] / ranked[1] < 2.5
    assert counts["acme-q00000"] == ranked[0]


def test_paraphrase_and_negation_rates_and_variants_keep_the_source() -> None:
    c = Corpus.generate(5, ["acme"], 20)
    m = QueryMix(c, 100, paraphrase_rate=0.25, negation_rate=0.1)
    rng = random.Random(1)
    qs = [m.next(rng) for _ in range(10000)]
    variants = collections.Counter(q.variant for q in qs)
    assert 0.22 < variants["paraphrase"] / 10000 < 0.28
    assert 0.08 < variants["negated"] / 10000 < 0.12
    base = {q.qid: q.source_doc_id for q in m.pools["acme"]}
    for q in qs:
        assert base[q.qid] == q.source_doc_id
        if q.variant == "negated":
            assert " not " in q.text


def test_tenant_weights_are_followed() -> None:
    c = Corpus.generate(5, ["acme", "globex"], 10)
    m = QueryMix(c, 40, tenant_weights={"acme": 0.8, "globex": 0.2})
    rng = random.Random(2)
    share = sum(m.next(rng).tenant == "acme" for _ in range(5000)) / 5000
    assert 0.77 < share < 0.83


def test_zipf_cdf() -> None:
    cdf = zipf_cdf(4, 1.0)
    assert cdf[-1] == 1.0 and abs(cdf[0] - 1 / (1 + 1 / 2 + 1 / 3 + 1 / 4)) < 1e-12
    assert zipf_cdf(3, 0.0) == [1 / 3, 2 / 3, 1.0] or abs(zipf_cdf(3, 0.0)[0] - 1 / 3) < 1e-12
