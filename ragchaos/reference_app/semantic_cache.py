"""A semantic answer cache: a paraphrase of an answered question gets the same answer.

Conservative by design: a false hit is a
wrong answer served with confidence, a miss only costs a provider call.

* One convention: cosine similarity of L2-normalised vectors, hit iff ``sim >= threshold``
  (0.95 by default; 1.0 means "the same vector only", 0 means any non-opposed vector).
* Hard partitions: the key holds tenant, corpus version, prompt version, embedding model, top_k
  and the filters, and the similarity search runs only *inside* one partition. No entry of
  another tenant (or of an older corpus) is ever compared.
* A lexical guard: negations and polar words (not, no, never, without, on/off, enable/disable,
  ...) and numbers must match token for token, because "X" and "not X" embed almost alike.
* Invalidation: a tenant's partitions are dropped when its corpus changes, except what
  ``carry_forward`` re-keyed under the new version (revalidation.py); entries expire after
  ``ttl_s`` (a carried entry keeps its age); a partition keeps at most ``max_entries``.
"""

from __future__ import annotations

import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["Keep", "NoSemanticStore", "SemanticCache", "SemanticHit", "SemanticStore", "guard_signature"]

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
POLAR = frozenset(
    {
        "not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "without",
        "cannot", "cant", "except", "excluding", "unless", "off", "on", "disable", "disabled",
        "enable", "enabled", "true", "false", "yes", "before", "after", "more", "less", "least",
        "most", "min", "max", "minimum", "maximum", "above", "below", "over", "under", "increase",
        "decrease", "allow", "allowed", "deny", "denied", "forbid", "forbidden",
    }
)


def guard_signature(question: str) -> tuple[tuple[str, int], ...]:
    """The polar words and numbers of a question, as a multiset (``n't`` counts as ``not``)."""
    tokens: list[str] = []
    for tok in _TOKEN.findall(question.lower().replace("’", "'")):
        if tok.endswith("n't"):
            tokens.append("not")
        elif tok in POLAR or tok[0].isdigit():
            tokens.append(tok.replace(",", ""))
    return tuple(sorted(Counter(tokens).items()))


@dataclass(frozen=True)
class SemanticHit:
    value: Any
    similarity: float
    question: str


# (unit question vectors of a partition, their answers, the partition) -> keep each?
Keep = Callable[[np.ndarray, list[Any], tuple[Hashable, ...]], Iterable[bool]]


@dataclass
class _Partition:
    vectors: list[np.ndarray] = field(default_factory=list)
    entries: list[tuple[str, tuple[tuple[str, int], ...], Any, float]] = field(default_factory=list)


class SemanticStore(Protocol):
    """Where the fleet's copy of each partition lives (stores.py; Redis: shared/semantic_cache.py)."""

    async def fetch(self, partition: tuple[Hashable, ...]) -> _Partition | None:
        """The shared copy of ``partition`` (empty if none), or None when it cannot be read."""
        ...

    def append(self, partition: tuple[Hashable, ...], part: _Partition) -> None:
        """Add ``part``'s entries to the shared copy, behind the caller's back."""
        ...


class NoSemanticStore:
    """One replica: the partitions in memory are all there is."""

    async def fetch(self, partition: tuple[Hashable, ...]) -> _Partition | None:
        return None

    def append(self, partition: tuple[Hashable, ...], part: _Partition) -> None:
        return None


class SemanticCache:
    def __init__(
        self,
        threshold: float = 0.95,
        *,
        ttl_s: float = 600.0,
        max_entries: int = 512,
        max_partitions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
        store: SemanticStore | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold is a cosine similarity in [0, 1]")
        self.threshold = threshold
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_partitions = max_partitions
        self.enabled = enabled
        self._clock = clock
        self._store: SemanticStore = store if store is not None else NoSemanticStore()
        self._parts: OrderedDict[tuple[Hashable, ...], _Partition] = OrderedDict()

    @staticmethod
    def _unit(vector: Sequence[float]) -> np.ndarray:
        v = np.asarray(vector, dtype=np.float32)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def lookup(self, partition: tuple[Hashable, ...], vector: Sequence[float], question: str) -> SemanticHit | None:
        """Best guarded entry with similarity >= threshold in ``partition``, or None."""
        if not self.enabled:
            return None
        part = self._parts.get(partition)
        if part is None or not part.vectors:
            return None
        self._expire(part)
        if not part.vectors:
            return None
        sims = np.stack(part.vectors) @ self._unit(vector)
        signature = guard_signature(question)
        for i in np.argsort(-sims):
            sim = float(sims[i])
            # float32 rounding can put an identical vector at 0.99999994; 1e-6 keeps tau=1.0 usable
            if sim + 1e-6 < self.threshold:
                break
            q, sig, value, _ = part.entries[i]
            if sig == signature:
                return SemanticHit(value, min(sim, 1.0), q)
        return None

    async def prefetch(self, partition: tuple[Hashable, ...]) -> None:
        """Bring the store's copy of ``partition`` in before ``lookup``."""
        if not self.enabled:
            return
        part = await self._store.fetch(partition)
        if part is None:
            return
        # the store is the truth for the fleet: replace this replica's copy of the partition
        if part.entries or partition in self._parts:
            self._parts[partition] = part
            self._parts.move_to_end(partition)
            while len(self._parts) > self.max_partitions:
                self._parts.popitem(last=False)

    async def search(self, partition: tuple[Hashable, ...], vector: Sequence[float], question: str) -> SemanticHit | None:
        """``lookup`` after reading the shared copy of the partition: what the query path calls."""
        if not self.enabled:
            return None
        await self.prefetch(partition)
        return self.lookup(partition, vector, question)

    def store(self, partition: tuple[Hashable, ...], vector: Sequence[float], question: str, value: Any) -> None:
        if not self.enabled:
            return
        part = self._parts.get(partition)
        if part is None:
            part = self._parts[partition] = _Partition()
            while len(self._parts) > self.max_partitions:
                self._parts.popitem(last=False)
        self._parts.move_to_end(partition)
        entry = (question, guard_signature(question), value, self._clock())
        part.vectors.append(self._unit(vector))
        part.entries.append(entry)
        if len(part.vectors) > self.max_entries:
            del part.vectors[0], part.entries[0]
        self._store.append(partition, _Partition([part.vectors[-1]], [entry]))

    def invalidate_tenant(self, tenant: str, keep_version: Hashable | None = None) -> int:
        """Drop the partitions of ``tenant`` (keys start with tenant, version), except those of
        ``keep_version`` when given (the current version, where carried entries live)."""
        doomed = [k for k in self._parts if k and k[0] == tenant
                  and (keep_version is None or len(k) < 2 or k[1] != keep_version)]
        for k in doomed:
            del self._parts[k]
        return len(doomed)

    def carry_forward(self, tenant: str, old: Hashable, new: Hashable, keep: Keep) -> tuple[int, int]:
        """Copy the entries of ``tenant``'s ``old``-version partitions that ``keep`` accepts into
        the same partitions under ``new``; returns (kept, dropped)."""
        kept = dropped = 0
        for key in [k for k in self._parts if len(k) >= 2 and k[0] == tenant and k[1] == old]:
            part = self._parts[key]
            self._expire(part)
            if not part.vectors:
                continue
            verdicts = list(keep(np.stack(part.vectors), [e[2] for e in part.entries], key))
            moved = _Partition(
                [v for v, ok in zip(part.vectors, verdicts, strict=True) if ok],
                [e for e, ok in zip(part.entries, verdicts, strict=True) if ok],
            )
            kept += len(moved.entries)
            dropped += len(part.entries) - len(moved.entries)
            if moved.entries:
                new_key = (tenant, new, *key[2:])
                self._parts[new_key] = moved
                self._store.append(new_key, moved)
        return kept, dropped

    def _expire(self, part: _Partition) -> None:
        cutoff = self._clock() - self.ttl_s
        keep = [i for i, e in enumerate(part.entries) if e[3] >= cutoff]
        if len(keep) != len(part.entries):
            part.vectors = [part.vectors[i] for i in keep]
            part.entries = [part.entries[i] for i in keep]

    def __len__(self) -> int:
        return sum(len(p.entries) for p in self._parts.values())
