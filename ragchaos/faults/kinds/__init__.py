"""What a fault step does: one pydantic model per ``fault.kind``, joined in a discriminated union.

Network kinds (``network.py``) become Toxiproxy toxics on proxy ``<app>_<dependency>``; provider
kinds (``provider.py``) become faults posted to the provider's control API. Each kind has
``validate() -> list[str]`` (all problems at once) and ``describe() -> str``.
"""

from __future__ import annotations

from typing import Annotated, get_args

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
from ragchaos.faults.kinds.registry import FAULT_SPECS

__all__ = [
    "FAULT_SPECS",
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

if set(get_args(get_args(FaultSpec)[0])) != set(FAULT_SPECS.values()):  # pragma: no cover - a wiring mistake
    raise RuntimeError(f"FaultSpec and the registry of fault kinds differ: the registry holds "
                       f"{FAULT_SPECS.names()}; name every registered kind in FaultSpec")
