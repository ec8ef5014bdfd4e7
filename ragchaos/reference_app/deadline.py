"""A request deadline carried through every dependency call.

A request gets one time budget when it arrives; every call it makes (embeddings, vector search,
chat) runs with a per-attempt timeout capped by what is left, and retries never sleep past it.
The clock is injected so tests drive time by hand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["Deadline", "DeadlineConfig", "DeadlineExceeded"]

Clock = Callable[[], float]


class DeadlineExceeded(ReferenceAppError):
    """The request's time budget is spent."""


class DeadlineConfig(BaseModel):
    """Request budget and per-attempt timeouts, in seconds.

    The attempt timeouts are the explicit client timeouts (never the SDK's 600 s default); the
    deadline caps each of them. ``min_attempt_s`` is the least budget worth starting an attempt
    with: below it the call fails fast instead of sending a request that cannot finish.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_s: float = Field(10.0, gt=0)
    embeddings_attempt_s: float = Field(5.0, gt=0)
    chat_attempt_s: float = Field(8.0, gt=0)
    vectordb_attempt_s: float = Field(2.0, gt=0)
    min_attempt_s: float = Field(0.05, ge=0)

    def attempt_timeout(self, dependency: str) -> float:
        try:
            return float(getattr(self, f"{dependency}_attempt_s"))
        except AttributeError:
            raise ValueError(f"no attempt timeout for dependency {dependency!r}") from None


@dataclass(frozen=True)
class Deadline:
    """An absolute point on ``clock``'s time line; ``math.inf`` means no deadline."""

    expires_at: float
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        if seconds != seconds or seconds < 0:  # NaN or negative: a caller bug, not "no deadline"
            raise ValueError(f"deadline seconds must be >= 0, got {seconds!r}")
        return cls(clock() + seconds, clock)

    @classmethod
    def unbounded(cls, clock: Clock = time.monotonic) -> Deadline:
        """No deadline (the ``deadline`` switch off): ``remaining()`` is infinite."""
        return cls(math.inf, clock)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def cap(self, timeout: float) -> float:
        return min(timeout, self.remaining())

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the budget is spent."""
        if self.expired():
            raise DeadlineExceeded("request deadline exceeded")
