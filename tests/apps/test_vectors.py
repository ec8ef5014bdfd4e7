"""What both apps agree on about the vector store: records, the tenant filter, scores, stale chunks."""

from __future__ import annotations

from ragchaos.kit.chunking import Chunk, chunk_id
from ragchaos.kit.vectors import chunk_records, hits_from_query, stale_ids, tenant_where


def test_records_carry_tenant_and_doc_and_collapse_duplicates() -> None:
    chunks = [Chunk(0, "same", 0, 4), Chunk(1, "same", 5, 9), Chunk(2, "other", 10, 15)]
    recs = chunk_records("t", "d", chunks, {"lang": "en"})
    assert [r.id for r in recs] == [chunk_id("t", "d", "same"), chunk_id("t", "d", "other")]
    assert recs[0].metadata == {"lang": "en", "tenant": "t", "doc_id": "d", "chunk_index": 0}


def test_tenant_is_always_in_the_where_clause() -> None:
    assert tenant_where("t", None) == {"tenant": "t"}
    assert tenant_where("t", {"b": 2, "a": "x"}) == {"$and": [{"tenant": "t"}, {"a": "x"}, {"b": 2}]}


def test_hits_are_cosine_similarities_best_first() -> None:
    result = {"ids": [["c1", "c2"]], "documents": [["one", "two"]], "metadatas": [[{"doc_id": "d1"}, {"doc_id": "d2"}]],
              "distances": [[0.1, 0.25]]}
    sources, passages = hits_from_query(result)
    assert [(s.doc_id, s.chunk_id, s.score) for s in sources] == [("d1", "c1", 0.9), ("d2", "c2", 0.75)]
    assert [p.text for p in passages] == ["one", "two"]
    assert hits_from_query({"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]}) == ([], [])


def test_stale_ids_are_only_those_of_reindexed_documents() -> None:
    existing = {"ids": ["a", "b", "c"], "metadatas": [{"tenant": "t", "doc_id": "d"}, {"tenant": "t", "doc_id": "d"},
                                                     {"tenant": "t", "doc_id": "other"}]}
    assert stale_ids(existing, {("t", "d"): {"a"}}) == ["b"]
    assert stale_ids(existing, {("t2", "d"): {"x"}}) == []
