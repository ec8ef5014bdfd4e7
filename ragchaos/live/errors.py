"""What the page's controls refuse, with a message the presenter reads (a 400 with ``{"error"}``).

Kept apart from the load and the board so the web app can name them without importing Locust.
"""

from __future__ import annotations

__all__ = ["ControlError", "FaultError", "LoadError"]


class ControlError(ValueError):
    """A control request the live view cannot honour."""


class LoadError(ControlError):
    """A load request the page cannot honour."""


class FaultError(ControlError):
    """A fault press the board cannot honour."""
