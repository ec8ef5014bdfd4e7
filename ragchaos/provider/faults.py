"""Runtime faults, one small class per kind, registered by name (the Toxiproxy pattern).

A fault is a ``FaultSpec`` (the envelope: id, kind, endpoint, key, rate, duration_s, plus the
fields its kind uses) and a behaviour with one method, ``apply(effect) -> bool``, that changes
what happens to one request and says whether it did. ``FaultSet`` does everything common once:
matching on endpoint and key, expiry, the ``rate`` roll (seeded), hit counting. A change to
the set takes effect on the next request.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.core.registry import Registry
from ragchaos.provider.errors import ApiError, error_body, insufficient_quota, server_error
from ragchaos.provider.ratelimit import go_duration

__all__ = [
    "Effect",
    "ErrorFault",
    "FAULT_KINDS",
    "FailFirstFault",
    "Fault",
    "FaultSet",
    "FaultSpec",
    "HangFault",
    "InsufficientQuotaFault",
    "MalformedFault",
    "RateLimitFault",
    "SlowFault",
    "StreamCutFault",
    "register",
]

Kind = Literal["error", "rate_limit", "insufficient_quota", "fail_first", "slow", "hang", "stream_cut", "malformed"]


class FaultSpec(BaseModel):
    """The wire form of a fault (``/_control/faults``); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Kind
    endpoint: Literal["embeddings", "chat", "*"] = "*"
    key: str = "*"
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    duration_s: float | None = Field(default=None, gt=0)
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after_s: float | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=0)
    factor: float | None = Field(default=None, gt=0)
    seconds: float | None = Field(default=None, ge=0)
    after_chunks: int | None = Field(default=None, ge=0)


@dataclass
class Effect:
    """What the faults decided for one request; the app reads it at each step."""

    endpoint: str
    key: str
    model: str
    error: ApiError | None = None
    slow_factor: float = 1.0
    hang_s: float | None = None
    hang_release: asyncio.Event | None = None
    hanging: bool = False
    cut_after: int | None = None
    malformed: bool = False
    injected: list[str] = field(default_factory=list)


FAULT_KINDS: Registry[type[Fault]] = Registry("fault kind")


def register(kind: str) -> Callable[[type[Fault]], type[Fault]]:
    """``@register("slow")``: the class runs faults of kind ``slow`` (and knows it: ``kind``)."""
    return FAULT_KINDS.register(kind, tag="kind")


class Fault:
    kind: ClassVar[str]
    # True for faults that replace the answer; the first of those to hit wins
    decides_answer: ClassVar[bool] = False

    def __init__(self, spec: FaultSpec, expires: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.expires = expires
        self.clock = clock

    def apply(self, effect: Effect) -> bool:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Extra fields for GET /_control/faults (e.g. how many failures are left)."""
        return {}

    def close(self) -> None:
        """Called when the fault is removed or expires."""


def _retry_headers(retry_after_s: float | None) -> dict[str, str]:
    if retry_after_s is None:
        return {}
    return {"retry-after": str(max(0, math.ceil(retry_after_s))), "retry-after-ms": str(round(retry_after_s * 1000))}


def _rate_limited(model: str, retry_after_s: float | None) -> ApiError:
    wait = f" Please try again in {go_duration(retry_after_s)}." if retry_after_s is not None else ""
    message = (f"Rate limit reached for {model} in organization org-ragchaos on requests per min (RPM).{wait} "
               "Visit https://platform.openai.com/account/rate-limits to learn more.")
    return ApiError(429, error_body(message, "requests", None, "rate_limit_exceeded"), _retry_headers(retry_after_s))


def _status_error(status: int, model: str, retry_after_s: float | None) -> ApiError:
    if status == 429:
        return _rate_limited(model, retry_after_s)
    return server_error(status, _retry_headers(retry_after_s))


@register("error")
class ErrorFault(Fault):
    """Answer with ``status`` (default 503), e.g. 500, 502, 503 or 529."""

    decides_answer = True

    def apply(self, effect: Effect) -> bool:
        effect.error = _status_error(self.spec.status or 503, effect.model, self.spec.retry_after_s)
        return True


@register("rate_limit")
class RateLimitFault(Fault):
    """A 429 storm: ``rate_limit_exceeded`` with ``retry_after_s`` in retry-after(-ms) if set."""

    decides_answer = True

    def apply(self, effect: Effect) -> bool:
        effect.error = _rate_limited(effect.model, self.spec.retry_after_s)
        return True


@register("insufficient_quota")
class InsufficientQuotaFault(Fault):
    def apply(self, effect: Effect) -> bool:
        effect.error = insufficient_quota()
        return True


@register("fail_first")
class FailFirstFault(Fault):
    """The first ``n`` (default 3) matching calls fail with ``status`` (default 500), then all succeed."""

    decides_answer = True

    decides_answer = True

    def __init__(self, spec: FaultSpec, expires: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(spec, expires, clock)
        self.remaining = 3 if spec.n is None else spec.n

    def apply(self, effect: Effect) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        effect.error = _status_error(self.spec.status or 500, effect.model, self.spec.retry_after_s)
        return True

    def state(self) -> dict[str, Any]:
        return {"remaining": self.remaining}


@register("slow")
class SlowFault(Fault):
    """Multiply the request's service time by ``factor`` (default 4)."""

    def apply(self, effect: Effect) -> bool:
        effect.slow_factor *= self.spec.factor or 4.0
        return True


@register("hang")
class HangFault(Fault):
    """Hold the request ``seconds`` (null: until the fault is removed or expires), then serve it."""

    def __init__(self, spec: FaultSpec, expires: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(spec, expires, clock)
        self.release = asyncio.Event()

    def apply(self, effect: Effect) -> bool:
        limits = [s for s in (self.spec.seconds, None if self.expires is None else self.expires - self.clock())
                  if s is not None]
        effect.hanging = True
        effect.hang_s = max(0.0, min(limits)) if limits else None
        effect.hang_release = self.release
        return True

    def close(self) -> None:
        self.release.set()  # the requests it holds are served now


@register("stream_cut")
class StreamCutFault(Fault):
    """Close the connection after ``after_chunks`` (default 3) stream chunks, or mid-body."""

    def apply(self, effect: Effect) -> bool:
        effect.cut_after = 3 if self.spec.after_chunks is None else self.spec.after_chunks
        return True


@register("malformed")
class MalformedFault(Fault):
    """Answer 200 with a body that is not valid JSON (or a stream event that is not)."""

    def apply(self, effect: Effect) -> bool:
        effect.malformed = True
        return True


@dataclass
class _Active:
    fault: Fault
    created: float
    expires: float | None
    hits: int = 0


class FaultSet:
    """The active faults, in the order they were added; the first error wins."""

    def __init__(self, seed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self._faults: dict[str, _Active] = {}
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, spec: FaultSpec) -> str:
        fault_id = spec.id or f"fault-{next(self._ids)}"
        while spec.id is None and fault_id in self._faults:
            fault_id = f"fault-{next(self._ids)}"
        spec = spec.model_copy(update={"id": fault_id})
        self.remove(fault_id)
        now = self.clock()
        expires = now + spec.duration_s if spec.duration_s is not None else None
        self._faults[fault_id] = _Active(FAULT_KINDS[spec.kind](spec, expires, self.clock), now, expires)
        return fault_id

    def remove(self, fault_id: str) -> bool:
        active = self._faults.pop(fault_id, None)
        if active is None:
            return False
        active.fault.close()
        return True

    def clear(self) -> None:
        for fault_id in list(self._faults):
            self.remove(fault_id)

    def _expire(self) -> None:
        now = self.clock()
        for fault_id in [i for i, a in self._faults.items() if a.expires is not None and a.expires <= now]:
            self.remove(fault_id)

    def listing(self) -> list[dict[str, Any]]:
        self._expire()
        now = self.clock()
        out = []
        for a in self._faults.values():
            item = a.fault.spec.model_dump()
            item.update(a.fault.state())
            item["hits"] = a.hits
            item["expires_in_s"] = None if a.expires is None else round(a.expires - now, 3)
            out.append(item)
        return out

    def effect(self, endpoint: str, key: str, model: str) -> Effect:
        effect = Effect(endpoint, key, model)
        if not self._faults:
            return effect
        self._expire()
        for a in list(self._faults.values()):
            spec = a.fault.spec
            if spec.endpoint not in ("*", endpoint) or spec.key not in ("*", key):
                continue
            if effect.error is not None and a.fault.decides_answer:
                continue  # an earlier fault already decided the answer
            if spec.rate < 1.0 and self.rng.random() >= spec.rate:
                continue
            if a.fault.apply(effect):
                a.hits += 1
                effect.injected.append(spec.id or "")
        return effect
