"""A circuit breaker's state shared by a fleet: one Redis hash per dependency, one Lua script
per question, so every replica sees one state and half-open lets exactly one probe through
fleet-wide (``RAGCHAOS_BREAKER_SCOPE=fleet``; the default keeps it per replica, see
docs/scale-out.md, "Why the circuit breaker stays per replica").

The hash ``<prefix>breaker:<dependency>`` holds ``state``, ``failures``, ``opened_at``, ``gen``
and ``probe_until``. The probe slot is a lease, not a flag: a replica that dies holding the
probe would otherwise leave the fleet half-open for ever, so after ``probe_lease_s`` the slot
is free again. Times are the callers' wall clocks (epoch seconds; the replicas' clocks must
agree to well within ``reset_timeout_s``), passed in so a test can drive them.

Any Redis error becomes ``ConnectionError``: the breaker (breaker.py) then decides locally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from redis.exceptions import RedisError

from ragchaos.reference_app.breaker_store import Decision, Move, Outcome, State, Ticket
from ragchaos.reference_app.shared.namespace import Namespace, awaitable

__all__ = ["RedisBreakerState", "redis_breaker_stores"]

# the moves are returned as "from>to>reason" strings; numbers as strings (Lua would truncate floats)
_MOVE = """
local function move(k, h, to, reason, now)
  local m = h.state .. '>' .. to .. '>' .. reason
  h.state = to
  h.gen = h.gen + 1
  h.failures = 0
  h.probe_until = 0
  redis.call('HSET', k, 'state', to, 'gen', h.gen, 'failures', 0, 'probe_until', 0)
  if to == 'open' then redis.call('HSET', k, 'opened_at', tostring(now)) end
  return m
end
local function load(k)
  local v = redis.call('HMGET', k, 'state', 'failures', 'opened_at', 'gen', 'probe_until')
  return {state = v[1] or 'closed', failures = tonumber(v[2] or '0'), opened_at = tonumber(v[3] or '0'),
          gen = tonumber(v[4] or '0'), probe_until = tonumber(v[5] or '0')}
end
"""

# ARGV: now, reset_timeout_s, probe_lease_s -> {verdict, state, failures, gen, retry_after, moves...}
_ADMIT = _MOVE + """
local k = KEYS[1]
local now, reset, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = load(k)
local moves = {}
if h.state == 'open' then
  local wait = h.opened_at + reset - now
  if wait > 0 then return {'refused', h.state, h.failures, h.gen, tostring(wait)} end
  table.insert(moves, move(k, h, 'half_open', 'reset timeout elapsed', now))
end
local verdict = 'admitted'
if h.state == 'half_open' then
  if h.probe_until > now then
    verdict = 'refused'
  else
    redis.call('HSET', k, 'probe_until', tostring(now + lease))
    verdict = 'probe'
  end
end
return {verdict, h.state, h.failures, h.gen, tostring(reset), unpack(moves)}
"""

# ARGV: now, generation, probe (0/1), outcome, failure_threshold -> {state, failures, gen, moves...}
_RECORD = _MOVE + """
local k = KEYS[1]
local now, gen, probe, outcome, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local h = load(k)
local moves = {}
if gen ~= h.gen then
  -- admitted under an earlier state; that state's verdict is already in
elseif h.state == 'half_open' and probe == '1' then
  redis.call('HSET', k, 'probe_until', 0)
  if outcome == 'success' then table.insert(moves, move(k, h, 'closed', 'probe succeeded', now))
  elseif outcome == 'failure' then table.insert(moves, move(k, h, 'open', 'probe failed', now)) end
elseif h.state == 'closed' then
  if outcome == 'success' then
    h.failures = 0
    redis.call('HSET', k, 'failures', 0)
  elseif outcome == 'failure' then
    h.failures = redis.call('HINCRBY', k, 'failures', 1)
    if h.failures >= threshold then
      table.insert(moves, move(k, h, 'open', h.failures .. ' consecutive failures', now))
    end
  end
end
return {h.state, h.failures, h.gen, unpack(moves)}
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _moves(raw: list[Any]) -> tuple[Move, ...]:
    out: list[Move] = []
    for item in raw:
        from_state, to_state, reason = _text(item).split(">", 2)
        out.append((cast(State, from_state), cast(State, to_state), reason))
    return tuple(out)


class RedisBreakerState:
    """One dependency's breaker state in Redis (a ``BreakerStateStore``)."""

    def __init__(self, ns: Namespace, dependency: str, *, probe_lease_s: float = 30.0) -> None:
        self.key = ns.key("breaker", dependency)
        self.probe_lease_s = probe_lease_s
        self._admit = ns.client.register_script(_ADMIT)
        self._record = ns.client.register_script(_RECORD)

    async def admit(self, failure_threshold: int, reset_timeout_s: float, now: float) -> Decision:
        reply = await self._call(self._admit, [repr(now), repr(reset_timeout_s), repr(self.probe_lease_s)])
        verdict, state, failures, gen = _text(reply[0]), cast(State, _text(reply[1])), int(reply[2]), int(reply[3])
        moves = _moves(reply[5:])
        if verdict == "refused":
            return Decision(state, failures, moves, retry_after=float(_text(reply[4])))
        probe = verdict == "probe"
        quiet = not probe and failures == 0
        return Decision(state, failures, moves, Ticket(gen, probe=probe, shared=True, quiet=quiet))

    async def record(self, ticket: Ticket, outcome: Outcome, failure_threshold: int, now: float) -> Decision:
        reply = await self._call(self._record, [repr(now), str(ticket.generation), "1" if ticket.probe else "0",
                                                outcome, str(failure_threshold)])
        return Decision(cast(State, _text(reply[0])), int(reply[1]), _moves(reply[3:]))

    async def _call(self, script: Any, args: list[str]) -> list[Any]:
        try:
            return cast(list[Any], await awaitable(script(keys=[self.key], args=args)))
        except RedisError as exc:
            raise ConnectionError(f"redis: {exc}") from exc


def redis_breaker_stores(ns: Namespace, *, probe_lease_s: float = 30.0) -> Callable[[str], RedisBreakerState]:
    """``factory(dependency) -> RedisBreakerState`` for build_guards."""
    return lambda dependency: RedisBreakerState(ns, dependency, probe_lease_s=probe_lease_s)
