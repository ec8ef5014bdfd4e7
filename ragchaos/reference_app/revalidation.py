"""Carry cached answers across a corpus change that cannot alter them.

Every completed ingest bumps the tenant's corpus version (caches.py), and the response,
retrieval and semantic caches are keyed by it, so an answer computed before the change is never
served after it. That is safe but blunt: a document batch landing in a traffic spike empties the
tenant's caches exactly when they are needed most (measured in the Monday-morning scenario:
the response cache answered ~4% of the spike's queries while its document batch landed).

Most cached answers cannot be changed by a given batch: a new chunk only changes an answer if it
would enter the answer's top k. So when the replica that did the ingest bumps the version, it
re-checks each of the tenant's cached answers against the change and re-keys those still exact
under the new version. The rule, exact for exact top-k search:

* none of the answer's source documents was (re)indexed by the change (its chunks may have
  changed or gone);
* the answer had ``top_k`` sources (fewer means the tenant had fewer matching chunks than k,
  so any new chunk would join);
* every new chunk's cosine similarity to the question is below the answer's lowest source
  score, by ``MARGIN`` (scores are rounded to 6 digits and vectors are float32).

Conservative where it cannot know: filters are ignored (a new chunk the filter would reject
still counts), and a change seen only as a version bump (another replica's ingest, or versions
that moved by more than one) drops everything as before. Chroma's HNSW index is approximate; a
carried answer is what an exact search would return. A carried entry keeps its original age, so
the TTLs still bound how long any answer lives.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ragchaos.kit.schemas import Source

__all__ = ["MARGIN", "Basis", "CorpusChange", "basis_of", "still_exact", "unit_rows"]

# below the lowest source score by more than rounding (6 digits) and float32 error can explain
MARGIN = 1e-4


def unit_rows(vectors: Sequence[float] | Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Vectors as float32 rows of length 1 (zero rows stay zero); shape (n, d), n may be 0.
    One vector (a flat sequence) is one row."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim == 1:
        m = m.reshape(1, -1) if m.size else m.reshape(0, 0)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class CorpusChange:
    """What one completed ingest did to one tenant's corpus."""

    tenant: str
    doc_ids: frozenset[str]  # documents (re)indexed: any old chunk of theirs may be gone
    vectors: np.ndarray = field(repr=False)  # unit vectors of every chunk written, shape (m, d)

    @classmethod
    def of(cls, tenant: str, doc_ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> CorpusChange:
        return cls(tenant, frozenset(doc_ids), unit_rows(vectors))


@dataclass(frozen=True)
class Basis:
    """What a cached answer's sources depended on: the question and where its top k ended."""

    vector: np.ndarray = field(repr=False)  # unit question vector
    top_k: int
    doc_ids: frozenset[str]
    floor: float  # the lowest source score (cosine similarity); -inf with no sources
    full: bool  # as many sources as top_k
    created: float  # clock time the answer was computed (a carried answer keeps its age)


def basis_of(vector: Sequence[float] | np.ndarray, sources: Sequence[Source], top_k: int,
             *, created: float | None = None) -> Basis:
    scores = [s.score for s in sources]
    return Basis(
        vector=unit_rows(vector)[0],
        top_k=top_k,
        doc_ids=frozenset(s.doc_id for s in sources),
        floor=min(scores) if scores else float("-inf"),
        full=len(sources) >= top_k,
        created=time.monotonic() if created is None else created,
    )


def still_exact(bases: Sequence[Basis], change: CorpusChange) -> list[bool]:
    """For each basis: would its answer be the same after ``change``? (rule in the module doc)"""
    if not bases:
        return []
    ok = [not (b.doc_ids & change.doc_ids) for b in bases]
    if change.vectors.size == 0:  # only deletions (a re-index to nothing): the doc check decides
        return ok
    questions = np.stack([b.vector for b in bases])
    if questions.shape[1] != change.vectors.shape[1]:  # another embedding model: cannot compare
        return [False] * len(bases)
    best_new = (questions @ change.vectors.T).max(axis=1)
    return [
        keep and b.full and float(best) < b.floor - MARGIN
        for keep, b, best in zip(ok, bases, best_new, strict=True)
    ]
