"""Cached answers carried across a corpus change: the rule (revalidation.py) and its plumbing.

The rule is pure arithmetic on vectors, so these tests build the vectors by hand: a question
along one axis, sources at known similarities, new chunks placed inside or outside the top k.
The end-to-end version (a real app, provider and Chroma) is in test_data_path.py.
"""

from __future__ import annotations

import asyncio

import numpy as np

from ragchaos.kit.prompt import Passage
from ragchaos.kit.schemas import QueryRequest, QueryResponse, Source
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.query import QueryService
from ragchaos.reference_app.revalidation import MARGIN, CorpusChange, basis_of, still_exact, unit_rows
from ragchaos.reference_app.semantic_cache import SemanticCache

D = 8


def at(similarity: float, axis: int = 1) -> np.ndarray:
    """A unit vector with cosine ``similarity`` to e0, the rest of it along ``axis``."""
    v = np.zeros(D, dtype=np.float32)
    v[0] = similarity
    v[axis] = np.sqrt(max(0.0, 1.0 - similarity**2))
    return v


Q = at(1.0)  # the question: e0
SOURCES = [Source(doc_id=f"d{i}", chunk_id=f"d{i}-0", score=s) for i, s in enumerate((0.9, 0.8, 0.7, 0.6))]
BASIS = basis_of(Q, SOURCES, top_k=4, created=0.0)


def change(*vectors: np.ndarray, docs: tuple[str, ...] = ("new",)) -> CorpusChange:
    return CorpusChange.of("t", list(docs), list(vectors))


def test_a_new_chunk_below_the_lowest_source_keeps_the_answer() -> None:
    assert still_exact([BASIS], change(at(0.5), at(-0.3, axis=2))) == [True]


def test_a_new_chunk_that_would_enter_the_top_k_drops_it() -> None:
    assert still_exact([BASIS], change(at(0.5), at(0.65))) == [False]


def test_a_tie_within_the_margin_counts_as_entering() -> None:
    assert still_exact([BASIS], change(at(0.6 - MARGIN / 2))) == [False]
    assert still_exact([BASIS], change(at(0.6 - 3 * MARGIN))) == [True]


def test_reindexing_a_source_document_drops_the_answer_even_with_no_new_chunk_near() -> None:
    assert still_exact([BASIS], change(at(0.0), docs=("d3",))) == [False]
    assert still_exact([BASIS], CorpusChange.of("t", ["d2"], [])) == [False]  # re-indexed to nothing
    assert still_exact([BASIS], CorpusChange.of("t", ["other"], [])) == [True]


def test_an_answer_with_fewer_sources_than_top_k_is_dropped_by_any_new_chunk() -> None:
    short = basis_of(Q, SOURCES[:2], top_k=4, created=0.0)
    assert not short.full
    assert still_exact([short], change(at(-0.9))) == [False]


def test_vectors_need_not_be_normalised_and_other_dimensions_never_match() -> None:
    scaled = basis_of(Q * 7, SOURCES, top_k=4, created=0.0)
    assert still_exact([scaled], change(at(0.5) * 3)) == [True]
    assert still_exact([scaled], CorpusChange.of("t", ["x"], [np.ones(D + 1)])) == [False]


def test_many_bases_at_once() -> None:
    other = basis_of(at(0.0, axis=3), [Source(doc_id="e", chunk_id="e-0", score=0.95)] * 4, top_k=4, created=0.0)
    assert still_exact([BASIS, other], change(at(0.7))) == [False, True]
    assert still_exact([], change(at(0.7))) == []


def test_unit_rows_shapes() -> None:
    assert unit_rows([]).shape[0] == 0
    assert np.allclose(np.linalg.norm(unit_rows([[3, 4], [0, 0]]), axis=1), [1.0, 0.0])


def test_carriers_run_before_listeners_and_only_for_one_step_with_a_change() -> None:
    versions = CorpusVersions()
    calls: list[tuple[str, object]] = []
    versions.on_advance(lambda ch, old, new: calls.append(("carry", (ch.tenant, old, new, versions.get("t")))))
    versions.on_change(lambda tenant: calls.append(("change", versions.get(tenant))))
    asyncio.run(versions.advance("t", change(at(0.1))))
    assert calls == [("carry", ("t", 0, 1, 0)), ("change", 1)]  # carried while "t" was still at 0
    calls.clear()
    asyncio.run(versions.advance("t"))  # a change not known: nothing to carry
    versions.bump("t")
    assert calls == [("change", 2), ("change", 3)]


def answer(doc: str, score: float) -> QueryResponse:
    return QueryResponse(answer=doc, sources=[Source(doc_id=doc, chunk_id=f"{doc}-0", score=score)])


def test_semantic_partitions_are_carried_entry_by_entry_then_the_old_ones_dropped() -> None:
    now = [100.0]
    cache = SemanticCache(0.95, ttl_s=60, clock=lambda: now[0])
    old_part = ("t", 0, "p1", "m", 1, "")
    other_tenant = ("u", 0, "p1", "m", 1, "")
    cache.store(old_part, Q, "question one", answer("d0", 0.9))
    cache.store(old_part, at(0.0, axis=4), "question two", answer("d1", 0.8))
    cache.store(other_tenant, Q, "question one", answer("d0", 0.9))
    now[0] = 130.0

    def keep(vectors: np.ndarray, answers: list, partition: tuple) -> list[bool]:
        bases = [basis_of(v, a.sources, int(partition[4]), created=0.0) for v, a in zip(vectors, answers, strict=True)]
        return still_exact(bases, change(at(0.95)))  # enters question one's top 1 only

    assert cache.carry_forward("t", 0, 1, keep) == (1, 1)
    new_part = ("t", 1, "p1", "m", 1, "")
    assert cache.invalidate_tenant("t", keep_version=1) == 1  # the old partition
    assert cache.lookup(new_part, Q, "question one") is None
    hit = cache.lookup(new_part, at(0.0, axis=4), "question two")
    assert hit is not None and hit.value.answer == "d1"
    assert cache.lookup(other_tenant, Q, "question one") is not None  # another tenant untouched
    now[0] = 161.0  # a carried entry keeps its age: stored at 100, ttl 60
    assert cache.lookup(new_part, at(0.0, axis=4), "question two") is None


# -- an answer that finishes after the corpus moved (QueryService._rekeyed) ------------------------
# The service's collaborators are stand-ins here so the test can hold a query inside its chat call
# while an ingest completes; the same path runs for real in test_data_path.py.


class _Embedder:
    async def embed(self, texts: list[str], deadline: object) -> list[np.ndarray]:
        return [Q for _ in texts]


class _Store:
    async def search(self, tenant: str, vector: object, top_k: int, filters: object, deadline: object) -> tuple:
        return list(SOURCES[:top_k]), [Passage(s.doc_id, s.chunk_id, "text") for s in SOURCES[:top_k]]


class _Generator:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def complete(self, messages: object, deadline: object) -> str:
        self.calls += 1
        await self.release.wait()
        return "the answer"


def _service(generator: _Generator, versions: CorpusVersions) -> QueryService:
    m = AppMetrics("t")
    return QueryService(
        embedder=_Embedder(), store=_Store(), generator=generator,
        responses=LayerCache("response", m, maxsize=100, ttl_s=None),
        retrievals=LayerCache("retrieval", m, maxsize=100, ttl_s=None),
        semantic=SemanticCache(0.95), versions=versions, metrics=m, stages=StageRecorder(),
    )


async def _answer_across(change_made: CorpusChange | None) -> tuple[str, int]:
    versions, generator = CorpusVersions(), _Generator()
    service = _service(generator, versions)
    req = QueryRequest(tenant="t", question="what is it")
    pending = asyncio.ensure_future(service.answer(req, 4, Deadline.after(30)))
    while generator.calls == 0:
        await asyncio.sleep(0)
    await versions.advance("t", change_made)  # an ingest completes while the answer is generated
    generator.release.set()
    await pending
    again = await service.answer(req, 4, Deadline.after(30))
    return again.x_cache, generator.calls


def test_an_answer_finishing_after_an_unrelated_change_is_cached_under_the_new_version() -> None:
    assert asyncio.run(_answer_across(change(at(0.1)))) == ("HIT", 1)


def test_an_answer_finishing_after_a_change_that_can_alter_it_is_not_cached() -> None:
    assert asyncio.run(_answer_across(change(at(0.95))))[0] == "MISS"
    assert asyncio.run(_answer_across(None))[0] == "MISS"  # only the version is known (another replica)


def test_a_carried_answer_moves_rather_than_staying_under_both_versions() -> None:
    async def body() -> tuple[int, int, str]:
        versions, generator = CorpusVersions(), _Generator()
        generator.release.set()
        service = _service(generator, versions)
        req = QueryRequest(tenant="t", question="what is it")
        await service.answer(req, 4, Deadline.after(30))
        await versions.advance("t", change(at(0.1)))  # carried to version 1
        again = await service.answer(req, 4, Deadline.after(30))
        return len(service.responses), len(service.retrievals), again.x_cache

    # one entry each: the version-0 keys were freed when the answer was carried (not at their TTL)
    assert asyncio.run(body()) == (1, 1, "HIT")
