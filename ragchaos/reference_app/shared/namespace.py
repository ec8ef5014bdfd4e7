"""One Redis client and the key namespace of one reference-app fleet.

Replicas of one service share a collection prefix (one vector store), so the namespace defaults
to it: ``ragchaos:<collection prefix>:``. Two fleets on one Redis (tests, or two apps) never see
each other's keys. Values are bytes (``decode_responses=False``): vectors are packed float32.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass
from typing import TypeVar, cast

import redis.asyncio as aioredis

__all__ = ["Namespace", "awaitable", "connect", "digest"]

_Reply = TypeVar("_Reply")


def digest(key: Hashable) -> str:
    """A stable short name for a cache key tuple (tenant, version, question, ...)."""
    raw = json.dumps(key, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def awaitable(reply: Awaitable[_Reply] | _Reply) -> Awaitable[_Reply]:
    """A reply of the asyncio client, as what it is. redis-py 5 declares some commands once for
    both clients, returning ``Awaitable[T] | T`` (redis-py issue #2399); on ``redis.asyncio`` the
    reply is always the awaitable."""
    return cast(Awaitable[_Reply], reply)


@dataclass(frozen=True)
class Namespace:
    client: aioredis.Redis
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)


def connect(url: str, prefix: str) -> Namespace:
    # a short socket timeout: Redis is on the request path of every query; a stalled Redis must
    # fail the cache lookup (a miss), not hang the request
    client = aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30)
    return Namespace(client, prefix)
