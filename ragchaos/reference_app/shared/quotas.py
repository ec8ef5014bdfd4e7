"""Per-tenant quotas enforced across replicas: ``QuotaStore`` on a Redis Lua token bucket.

The same bucket as ``MemoryQuotaStore`` (level refilled at ``rate_per_s`` up to ``burst``; take
``cost`` or return the seconds until it fits), run as one Lua script, so the read-refill-take is
atomic across every replica, on Redis's own clock (``TIME``): replicas' clocks never enter it.

Why a script and not the ``limits`` library: ``limits`` offers fixed and moving windows (and a
sliding-window counter), not this token bucket, and its answer is "allowed or not" plus a reset
time, not "seconds until this cost fits", which is the protocol's Retry-After. Keeping one
bucket semantics for both backends means a quota behaves the same on one replica or ten; the
script is 15 lines and needs nothing beyond redis-py (``limits``' redis extra would add a second
Redis client stack to keep in step with redis 5.x).
"""

from __future__ import annotations

import logging

import redis.exceptions

from ragchaos.reference_app.quotas import TenantLimit
from ragchaos.reference_app.shared.namespace import Namespace

__all__ = ["BUCKET_LUA", "RedisQuotaStore"]

log = logging.getLogger("ragchaos.shared")

# KEYS[1]: the bucket hash; ARGV: rate per s, burst, cost. Returns the wait as a string (a Lua
# number returned to Redis is truncated to an integer).
BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = math.min(tonumber(ARGV[3]), burst)
local b = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
level = math.min(burst, level + math.max(0, now - at) * rate)
local wait = 0
if level >= cost then level = level - cost else wait = (cost - level) / rate end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisQuotaStore:
    """Implements ``reference_app.quotas.QuotaStore``. An idle bucket expires once it would be
    full again (the same as the memory store forgetting it)."""

    def __init__(self, ns: Namespace) -> None:
        self._ns = ns
        self._script = ns.client.register_script(BUCKET_LUA)

    async def take(self, key: str, cost: float, limit: TenantLimit) -> float:
        try:
            wait = await self._script(keys=[self._ns.key("quota", key)],
                                      args=[repr(limit.rate_per_s), repr(limit.burst), repr(float(cost))])
        except (redis.exceptions.RedisError, OSError) as exc:
            # fail open: a quota protects fairness between tenants; a Redis outage must not turn
            # into refusing every tenant (admission control still guards the replica itself)
            log.warning("shared quota unavailable, admitting %r: %s: %s", key, type(exc).__name__, exc)
            return 0.0
        return float(wait)
