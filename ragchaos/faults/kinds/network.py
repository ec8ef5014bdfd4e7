"""Network fault kinds: each becomes Toxiproxy toxics (or a disabled proxy) on ``<app>_<dependency>``.

A kind only says *what* to inject (``toxics()``); the timeline's network applier says *how*,
through ``faults.client``, so the same step works on the real Toxiproxy and the built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "NETWORK_KINDS",
    "BandwidthFault",
    "DownFault",
    "LatencyFault",
    "LimitDataFault",
    "NetworkFault",
    "ResetChurnFault",
    "ResetPeerFault",
    "SlicerFault",
    "TimeoutFault",
    "ToxicSpec",
]

Stream = Literal["upstream", "downstream", "both"]


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic to add: the body of ``POST /proxies/{p}/toxics`` minus the name."""

    type: str
    stream: str
    attributes: dict[str, Any] = field(default_factory=dict)
    toxicity: float = 1.0


class NetworkFault(BaseModel):
    """Common fields: which direction (``upstream`` = app→dependency) and how often (per connection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ClassVar[str] = "network"
    toxic_type: ClassVar[str] = ""

    stream: Stream = "downstream"
    toxicity: float = Field(1.0, ge=0.0, le=1.0)

    def attributes(self) -> dict[str, Any]:
        return {}

    def toxics(self) -> list[ToxicSpec]:
        streams = ["upstream", "downstream"] if self.stream == "both" else [self.stream]
        return [ToxicSpec(self.toxic_type, s, self.attributes(), self.toxicity) for s in streams]

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        return []

    def describe(self) -> str:
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes().items())
        odds = "" if self.toxicity >= 1 else f", {self.toxicity:.0%} of connections"
        return f"{self.kind} ({attrs}) {self.stream}{odds}"  # type: ignore[attr-defined]  # each subclass declares its kind literal


class LatencyFault(NetworkFault):
    kind: Literal["latency"] = "latency"
    toxic_type: ClassVar[str] = "latency"
    latency_ms: int = Field(ge=0)
    jitter_ms: int = Field(0, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


class BandwidthFault(NetworkFault):
    kind: Literal["bandwidth"] = "bandwidth"
    toxic_type: ClassVar[str] = "bandwidth"
    rate_kbps: int = Field(ge=0, description="KB/s, 1 KB = 1000 bytes; 0 stalls the stream")

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.rate_kbps}


class TimeoutFault(NetworkFault):
    kind: Literal["timeout"] = "timeout"
    toxic_type: ClassVar[str] = "timeout"
    timeout_ms: int = Field(0, ge=0, description="idle time before the connection is closed; 0 = black hole")

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


class ResetPeerFault(NetworkFault):
    kind: Literal["reset_peer"] = "reset_peer"
    toxic_type: ClassVar[str] = "reset_peer"
    timeout_ms: int = Field(0, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


class ResetChurnFault(NetworkFault):
    """Every ``every_ms`` each open connection is reset with probability ``toxicity``: pooled,
    established connections too, mid-request or idle (the built-in proxy's ``reset_churn``
    toxic; the real Toxiproxy has none)."""

    kind: Literal["reset_churn"] = "reset_churn"
    toxic_type: ClassVar[str] = "reset_churn"
    every_ms: int = Field(500, ge=1)

    def attributes(self) -> dict[str, Any]:
        return {"every": self.every_ms}


class SlicerFault(NetworkFault):
    kind: Literal["slicer"] = "slicer"
    toxic_type: ClassVar[str] = "slicer"
    average_size: int = Field(64, ge=1)
    size_variation: int = Field(0, ge=0)
    delay_us: int = Field(0, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us}

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        if self.size_variation >= self.average_size:
            return [f"slicer: size_variation ({self.size_variation}) must be below average_size ({self.average_size})"]
        return []


class LimitDataFault(NetworkFault):
    kind: Literal["limit_data"] = "limit_data"
    toxic_type: ClassVar[str] = "limit_data"
    bytes: int = Field(ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


class DownFault(NetworkFault):
    """The proxy is disabled: open connections get EOF, new ones are refused."""

    kind: Literal["down"] = "down"

    def toxics(self) -> list[ToxicSpec]:
        return []

    def validate(self) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        errors = []
        if self.stream != "downstream":
            errors.append("down: 'stream' does not apply (the whole proxy is disabled)")
        if self.toxicity != 1.0:
            errors.append("down: 'toxicity' does not apply (the whole proxy is disabled)")
        return errors

    def describe(self) -> str:
        return "down (proxy disabled)"


NETWORK_KINDS = (
    LatencyFault, BandwidthFault, TimeoutFault, ResetPeerFault, ResetChurnFault, SlicerFault, LimitDataFault,
    DownFault,
)
