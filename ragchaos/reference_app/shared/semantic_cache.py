"""The semantic cache shared across replicas: vectors in Redis, packed float32, per partition.

A partition (tenant, corpus version, prompt, model, top_k, filters) is one Redis list; each
element is one entry: a 4-byte length, a JSON header (question, guard signature, answer, wall
time) and the L2-normalised vector as raw float32. ``RedisSemanticStore`` is the
``SemanticStore`` a ``SemanticCache`` holds (composition): the cache's ``search`` reads the list
(LRANGE) into the replica's local partition, then runs the same brute-force cosine scan and
lexical guard as in-process; ``store`` appends locally and in Redis (RPUSH + LTRIM to
``max_entries`` + PEXPIRE to the TTL).

Why Redis and not Chroma for these vectors: a partition holds at most ``max_entries`` (512)
vectors, and an exact scan of 512 x 384 float32 is a fraction of a millisecond with numpy after
one round trip, with no approximate index to tune; Chroma would mean a collection (or a filter)
per tenant and corpus version, an HTTP hop on every query, and it would put the cache behind
the very vector store the chaos scenarios break (a vectordb fault must not also take the
answer cache down). Exact, small, partitioned: Redis.

Invalidation is by key: the corpus version is part of the partition, so a bumped version reads
an empty partition; the old list expires. The replica that did an ingest writes the entries it
carried (ragchaos/reference_app/revalidation.py) to the new version's list, ages unchanged.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import redis.exceptions

from ragchaos.reference_app.semantic_cache import SemanticCache, _Partition, guard_signature
from ragchaos.reference_app.shared.caches import WriteBehind
from ragchaos.reference_app.shared.namespace import Namespace, awaitable, digest

__all__ = ["RedisSemanticStore", "pack_entry", "unpack_entry", "redis_semantic_cache"]

log = logging.getLogger("ragchaos.shared")
_LEN = struct.Struct("<I")


def pack_entry(vector: np.ndarray, header: dict[str, Any]) -> bytes:
    meta = json.dumps(header, separators=(",", ":")).encode()
    return _LEN.pack(len(meta)) + meta + np.asarray(vector, dtype="<f4").tobytes()


def unpack_entry(raw: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    (n,) = _LEN.unpack_from(raw)
    header = json.loads(raw[_LEN.size:_LEN.size + n])
    vector = np.frombuffer(raw[_LEN.size + n:], dtype="<f4").astype(np.float32)
    return vector, header


class RedisSemanticStore:
    """``semantic_cache.SemanticStore`` on Redis: a partition is one list of packed entries."""

    def __init__(
        self,
        ns: Namespace,
        writes: WriteBehind,
        encode: Callable[[Any], Any],
        decode: Callable[[Any], Any],
        *,
        ttl_s: float,
        max_entries: int,
    ) -> None:
        self._ns = ns
        self._writes = writes
        self._encode = encode  # answer -> JSON-able
        self._decode = decode
        self._ttl_ms = int(ttl_s * 1000)
        self._max_entries = max_entries

    def key(self, partition: tuple[Hashable, ...]) -> str:
        return self._ns.key("semantic", str(partition[0]) if partition else "", digest(partition))

    async def fetch(self, partition: tuple[Hashable, ...]) -> _Partition | None:
        try:
            raws: Sequence[bytes] = await awaitable(self._ns.client.lrange(self.key(partition), 0, -1))
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("shared semantic cache read failed (local only): %s: %s", type(exc).__name__, exc)
            return None
        part = _Partition()
        for raw in raws[-self._max_entries:]:
            try:
                vector, h = unpack_entry(raw)
                sig = tuple((str(t), int(c)) for t, c in h["sig"])
                part.vectors.append(vector)
                part.entries.append((h["q"], sig, self._decode(h["value"]), float(h["at"])))
            except Exception as exc:
                log.warning("undecodable semantic cache entry skipped: %s", exc)
        return part

    def append(self, partition: tuple[Hashable, ...], part: _Partition) -> None:
        key = self.key(partition)
        pipe = self._ns.client.pipeline(transaction=True)
        for vector, (question, _, value, at) in zip(part.vectors, part.entries, strict=True):
            header = {"q": question, "sig": guard_signature(question), "value": self._encode(value), "at": at}
            pipe.rpush(key, pack_entry(vector, header))
        pipe.ltrim(key, -self._max_entries, -1)
        pipe.pexpire(key, self._ttl_ms)
        self._writes.submit("semantic", pipe.execute())


def redis_semantic_cache(
    ns: Namespace,
    writes: WriteBehind,
    encode: Callable[[Any], Any],
    decode: Callable[[Any], Any],
    threshold: float = 0.95,
    *,
    ttl_s: float = 600.0,
    max_entries: int = 512,
    enabled: bool = True,
) -> SemanticCache:
    """This replica's semantic cache with each partition's truth in Redis."""
    store = RedisSemanticStore(ns, writes, encode, decode, ttl_s=ttl_s, max_entries=max_entries)
    # wall time, not monotonic: entries written by another process are compared with it
    return SemanticCache(threshold, ttl_s=ttl_s, max_entries=max_entries, clock=time.time, enabled=enabled,
                         store=store)
