"""How the live view reaches a stack: its fault channels and its measurement endpoints."""

from __future__ import annotations

from typing import Any

from ragchaos.faults.appliers import Applier, NetworkApplier, ProviderApplier
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.live.feeds import ServerFeeds

__all__ = ["appliers_for", "feeds_for"]


def appliers_for(stack: Any) -> dict[str, Applier]:
    """Network faults through the stack's Toxiproxy API, provider faults through its control API."""
    appliers: dict[str, Applier] = {}
    if stack.toxiproxy is not None:
        appliers["network"] = NetworkApplier(ToxiproxyClient(stack.toxiproxy.url))
    if stack.provider is not None:
        appliers["provider"] = ProviderApplier(stack.provider.url)
    return appliers


def feeds_for(stack: Any, apps: list[str]) -> ServerFeeds:
    """The provider's ``/_stats`` and the ``/metrics`` of each app that serves them."""
    return ServerFeeds(stack.provider.url if stack.provider else None,
                       {a: stack.apps[a].url if stack.target(a).metrics else None for a in apps})
