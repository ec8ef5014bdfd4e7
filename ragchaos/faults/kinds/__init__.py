"""What a fault step does: one pydantic model per ``fault.kind``, joined in a discriminated union.

Network kinds (``network.py``) become Toxiproxy toxics on proxy ``<app>_<dependency>``; provider
kinds (``provider.py``) become faults posted to the provider's control API. Each kind has
``validate() -> list[str]`` (all problems at once) and ``describe() -> str``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ragchaos.faults.kinds.network import (
    NETWORK_KINDS,
    BandwidthFault,
    DownFault,
    LatencyFault,
    LimitDataFault,
    NetworkFault,
    ResetChurnFault,
    ResetPeerFault,
    SlicerFault,
    TimeoutFault,
    ToxicSpec,
)
from ragchaos.faults.kinds.provider import (
    PROVIDER_KINDS,
    ErrorFault,
    FailFirstFault,
    HangFault,
    InsufficientQuotaFault,
    MalformedFault,
    ProviderFault,
    RateLimitFault,
    SlowFault,
    StreamCutFault,
)

__all__ = [
    "NETWORK_KINDS",
    "PROVIDER_KINDS",
    "BandwidthFault",
    "DownFault",
    "ErrorFault",
    "FailFirstFault",
    "FaultSpec",
    "HangFault",
    "InsufficientQuotaFault",
    "LatencyFault",
    "LimitDataFault",
    "MalformedFault",
    "NetworkFault",
    "ProviderFault",
    "RateLimitFault",
    "ResetChurnFault",
    "ResetPeerFault",
    "SlicerFault",
    "SlowFault",
    "StreamCutFault",
    "TimeoutFault",
    "ToxicSpec",
]

FaultSpec = Annotated[
    LatencyFault
    | BandwidthFault
    | TimeoutFault
    | ResetPeerFault
    | ResetChurnFault
    | SlicerFault
    | LimitDataFault
    | DownFault
    | RateLimitFault
    | ErrorFault
    | InsufficientQuotaFault
    | SlowFault
    | StreamCutFault
    | FailFirstFault
    | HangFault
    | MalformedFault,
    Field(discriminator="kind"),
]
