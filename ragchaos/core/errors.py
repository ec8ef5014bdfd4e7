"""The one error a command shows as a line of text: a user mistake, never a traceback."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2, never a traceback."""
