"""Provider fault kinds: each becomes one fault on the provider's control API (``POST /_control/faults``).

The JSON follows docs/contracts.md ("Provider"). ``key`` aims the fault at one app (each app's
provider key is its name), so ``app: both`` posts one fault per app.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PROVIDER_KINDS",
    "ErrorFault",
    "FailFirstFault",
    "HangFault",
    "InsufficientQuotaFault",
    "MalformedFault",
    "ProviderFault",
    "RateLimitFault",
    "SlowFault",
    "StreamCutFault",
]


class ProviderFault(BaseModel):
    """Common fields: which endpoint and what fraction of its matching requests are hit."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ClassVar[str] = "provider"
    # the kind-specific fields that go into the control API's JSON
    payload_fields: ClassVar[tuple[str, ...]] = ()

    endpoint: Literal["embeddings", "chat", "*"] = "*"
    rate: float = Field(1.0, ge=0.0, le=1.0)

    def to_json(self, *, key: str, fault_id: str, expires_after_s: float | None = None) -> dict[str, Any]:
        """The body of ``POST /_control/faults`` for the app whose provider key is ``key``."""
        body: dict[str, Any] = {
            "id": fault_id,
            "kind": self.kind,  # type: ignore[attr-defined]  # each subclass declares its kind literal
            "endpoint": self.endpoint,
            "key": key,
            "rate": self.rate,
            "duration_s": expires_after_s,
        }
        for name in self.payload_fields:
            body[name] = getattr(self, name)
        return body

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        return []

    def describe(self) -> str:
        extra = "".join(f", {n}={getattr(self, n)}" for n in self.payload_fields if getattr(self, n) is not None)
        share = "" if self.rate >= 1 else f" on {self.rate:.0%} of requests"
        return f"provider {self.kind}{share} ({self.endpoint}{extra})"  # type: ignore[attr-defined]  # each subclass declares its kind literal


class RateLimitFault(ProviderFault):
    """429 with ``Retry-After``: a rate-limit storm."""

    kind: Literal["rate_limit"] = "rate_limit"
    payload_fields: ClassVar[tuple[str, ...]] = ("retry_after_s",)
    retry_after_s: float = Field(1.0, ge=0.0)


class ErrorFault(ProviderFault):
    """An HTTP error status (5xx by default) on a share of requests, with ``Retry-After`` when
    ``retry_after_s`` is set (an overloaded provider shedding load says when to come back)."""

    kind: Literal["error"] = "error"
    payload_fields: ClassVar[tuple[str, ...]] = ("status", "retry_after_s")
    status: int = Field(503, ge=400, le=599)
    retry_after_s: float | None = Field(None, ge=0.0)


class InsufficientQuotaFault(ProviderFault):
    """OpenAI's 429 ``insufficient_quota``: retrying does not help."""

    kind: Literal["insufficient_quota"] = "insufficient_quota"


class SlowFault(ProviderFault):
    """Service time multiplied by ``factor``."""

    kind: Literal["slow"] = "slow"
    payload_fields: ClassVar[tuple[str, ...]] = ("factor",)
    factor: float = Field(4.0, gt=0.0)

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        return [] if self.factor >= 1 else [f"slow: factor {self.factor} < 1 would speed the provider up"]


class StreamCutFault(ProviderFault):
    """A streamed chat answer stops after ``after_chunks`` chunks."""

    kind: Literal["stream_cut"] = "stream_cut"
    payload_fields: ClassVar[tuple[str, ...]] = ("after_chunks",)
    after_chunks: int = Field(5, ge=0)


class FailFirstFault(ProviderFault):
    """The first ``n`` matching requests fail with ``status``, then all succeed."""

    kind: Literal["fail_first"] = "fail_first"
    payload_fields: ClassVar[tuple[str, ...]] = ("n", "status")
    n: int = Field(3, ge=1)
    status: int = Field(503, ge=400, le=599)


class HangFault(ProviderFault):
    """Requests hang for ``seconds`` (null: until the fault is removed)."""

    kind: Literal["hang"] = "hang"
    payload_fields: ClassVar[tuple[str, ...]] = ("seconds",)
    seconds: float | None = Field(None, ge=0.0)


class MalformedFault(ProviderFault):
    """A 200 whose body is not what the API promises."""

    kind: Literal["malformed"] = "malformed"


PROVIDER_KINDS = (
    RateLimitFault, ErrorFault, InsufficientQuotaFault, SlowFault, StreamCutFault, FailFirstFault, HangFault,
    MalformedFault,
)
