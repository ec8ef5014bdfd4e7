"""The names of what the query path caches, instead of positional tuples.

One question (``QueryKey``: tenant, normalised question, top_k, filters) is cached in several
places, each keyed by what its entry depends on:

| cache | key | depends on |
|---|---|---|
| response | ``CacheKey`` with ``scope`` = prompt version | corpus version, prompt |
| retrieval | ``CacheKey`` with ``scope`` = embedding model | corpus version, embedding model |
| semantic | ``Partition`` (no question: similarity is searched inside it) | corpus version, prompt, model |
| last good answer (fallback only) | ``QueryKey.stale()`` | prompt, not the corpus version |

``CacheKey`` and ``Partition`` are named tuples: hashable, equal to the plain tuples they
replace (so a stored entry, a Redis key's digest and a test's literal key are unchanged), and
read by name (``key.tenant``, ``key.version``) where the code used to index them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ragchaos.kit.prompt import EMBED_MODEL, PROMPT_VERSION

__all__ = ["CacheKey", "Partition", "QueryKey", "filters_key", "normalise_question"]

_SPACE = re.compile(r"\s+")


def normalise_question(question: str) -> str:
    """Case and whitespace do not change a question; trailing ``?`` / ``.`` neither."""
    return _SPACE.sub(" ", question.strip().lower()).rstrip("?.! ")


def filters_key(filters: Mapping[str, Any] | None) -> str:
    if not filters:
        return ""
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]


class CacheKey(NamedTuple):
    """An exact-match cache entry of one question at one corpus version."""

    tenant: str
    version: int
    scope: str  # what else the entry depends on: the prompt version (answers), the model (retrievals)
    question: str
    top_k: int
    filters: str

    def at(self, version: int) -> CacheKey:
        """The same entry under another corpus version (re-keyed by revalidation)."""
        return self._replace(version=version)

    def response(self) -> CacheKey:
        """The response cache's key of the question this retrieval key was made for."""
        return self._replace(scope=PROMPT_VERSION)


class Partition(NamedTuple):
    """A semantic cache partition: similarity search never crosses one."""

    tenant: str
    version: int
    prompt: str
    model: str
    top_k: int
    filters: str


@dataclass(frozen=True)
class QueryKey:
    """What identifies a question's answer, the corpus version aside."""

    tenant: str
    question: str  # normalised
    top_k: int
    filters: str

    @classmethod
    def of(cls, tenant: str, question: str, top_k: int, filters: Mapping[str, Any] | None) -> QueryKey:
        return cls(tenant, normalise_question(question), top_k, filters_key(filters))

    def response(self, version: int) -> CacheKey:
        return CacheKey(self.tenant, version, PROMPT_VERSION, self.question, self.top_k, self.filters)

    def retrieval(self, version: int) -> CacheKey:
        return CacheKey(self.tenant, version, EMBED_MODEL, self.question, self.top_k, self.filters)

    def partition(self, version: int) -> Partition:
        return Partition(self.tenant, version, PROMPT_VERSION, EMBED_MODEL, self.top_k, self.filters)

    def stale(self) -> tuple[str, str, str, int, str]:
        """The last good answer's key: across corpus versions, never across prompts."""
        return (self.tenant, PROMPT_VERSION, self.question, self.top_k, self.filters)
