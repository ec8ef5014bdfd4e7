"""Errors of the fault layer, one tree so callers can catch as broadly or narrowly as they need.

    FaultError
     ├─ ToxiproxyError            an HTTP API call failed (``status`` and ``message`` from the server)
     │   ├─ BadRequest            400
     │   ├─ NotFound              404
     │   ├─ Conflict              409
     │   └─ ServerError           5xx (a bind failure, a timeout inside the server)
     ├─ ToxiproxyUnreachable      no answer at all (refused, timed out)
     └─ ProviderControlError      the provider's fault control API refused or did not answer
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "FaultError",
    "NotFound",
    "ProviderControlError",
    "ServerError",
    "ToxiproxyError",
    "ToxiproxyUnreachable",
]


class FaultError(Exception):
    """Anything that went wrong while injecting or removing a fault."""


class ToxiproxyError(FaultError):
    """The Toxiproxy API answered with an error status."""

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> {status}: {message}".strip())


class BadRequest(ToxiproxyError):
    pass


class NotFound(ToxiproxyError):
    pass


class Conflict(ToxiproxyError):
    pass


class ServerError(ToxiproxyError):
    pass


class ToxiproxyUnreachable(FaultError):
    """The Toxiproxy API did not answer (connection refused, timeout)."""


class ProviderControlError(FaultError):
    """The provider's ``/_control/faults`` API failed."""
