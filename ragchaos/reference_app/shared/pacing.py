"""Provider pacing shared by the replicas: one request and one token budget per dependency.

The replicas use one provider key, so the provider's RPM/TPM is one budget for the fleet; a
replica pacing on its own bucket would send N times its share. ``RedisPaceStore`` keeps the
``Pacer``'s local buckets as the *belief* about the limits (sized and corrected from the
``x-ratelimit-*`` headers as before) and reserves from buckets in Redis, sized by that belief,
in one Lua script on Redis's clock (``TIME``): atomic across replicas, and like the local
buckets the level may go negative, so concurrent reservations from every replica queue behind
each other at the provider's rate instead of waking together. A 429's pause is shared too
(``paused_until`` in Redis): one replica hitting the limit holds the whole fleet.

What is not shared: the provider's ``remaining`` header only corrects the local belief, not the
shared level (several replicas reading the same header would each subtract it).
"""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions

from ragchaos.reference_app.pacing import Pacer, TokenBucket
from ragchaos.reference_app.shared.caches import WriteBehind
from ragchaos.reference_app.shared.namespace import Namespace

__all__ = ["PACE_LUA", "RedisPaceStore", "redis_pacer"]

log = logging.getLogger("ragchaos.shared")

# KEYS: requests bucket, tokens bucket, pause key. ARGV: req rate/s, req capacity, tok rate/s,
# tok capacity, tokens, max wait. Returns {reserved (1|0), wait as string}.
PACE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function level_of(key, rate, cap)
  local b = redis.call('HMGET', key, 'level', 'at')
  local level = tonumber(b[1]) or cap
  local at = tonumber(b[2]) or now
  return math.min(cap, level + math.max(0, now - at) * rate)
end
local rr, rc = tonumber(ARGV[1]), tonumber(ARGV[2])
local tr, tc = tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, max_wait = tonumber(ARGV[5]), tonumber(ARGV[6])
local req = level_of(KEYS[1], rr, rc)
local wait = math.max(0, (1 - req) / rr)
local tok = 0
if tc > 0 then
  tok = level_of(KEYS[2], tr, tc)
  if tokens > 0 then wait = math.max(wait, (math.min(tokens, tc) - tok) / tr) end
end
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
wait = math.max(wait, paused - now)
if wait >= max_wait then return {0, tostring(wait)} end
redis.call('HSET', KEYS[1], 'level', tostring(req - 1), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 120000)
if tc > 0 and tokens > 0 then
  redis.call('HSET', KEYS[2], 'level', tostring(tok - math.min(tokens, tc)), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[2], 120000)
end
return {1, tostring(wait)}
"""

PAUSE_LUA = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > cur then redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000) end
return 1
"""


class RedisPaceStore:
    """``pacing.PaceStore`` on Redis: the fleet's buckets and pause, one Lua script each."""

    def __init__(self, ns: Namespace, dependency: str, writes: WriteBehind) -> None:
        self._keys = [ns.key("pace", dependency, "requests"), ns.key("pace", dependency, "tokens"),
                      ns.key("pace", dependency, "paused_until")]
        self._reserve = ns.client.register_script(PACE_LUA)
        self._pause = ns.client.register_script(PAUSE_LUA)
        self._writes = writes

    async def reserve(
        self, requests: TokenBucket, tokens: TokenBucket | None, amount: float, max_wait: float
    ) -> tuple[bool, float] | None:
        args = [repr(requests.rate), repr(requests.capacity),
                repr(tokens.rate if tokens else 0.0), repr(tokens.capacity if tokens else 0.0),
                repr(amount), repr(max_wait)]
        try:
            reserved, raw = await self._reserve(keys=self._keys, args=args)
        except (redis.exceptions.RedisError, OSError) as exc:
            # Redis unreachable: pace on this replica's own buckets rather than not at all
            log.warning("shared pacing unavailable, pacing locally: %s: %s", type(exc).__name__, exc)
            return None
        return bool(int(reserved)), float(raw)

    def pause(self, seconds: float) -> None:
        self._writes.submit("pacing pause", self._pause(keys=[self._keys[2]], args=[repr(float(seconds))]))


def redis_pacer(ns: Namespace, dependency: str, writes: WriteBehind, rpm: float, tpm: float | None,
                **kwargs: Any) -> Pacer:
    """A ``Pacer`` whose budget is the fleet's (``kwargs``: the Pacer's)."""
    return Pacer(rpm, tpm, store=RedisPaceStore(ns, dependency, writes), **kwargs)
