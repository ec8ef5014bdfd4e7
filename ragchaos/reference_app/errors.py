"""The root of every error the reference app raises on purpose.

Each mechanism's error (``QuotaExceeded``, ``Overloaded``, ``BreakerOpen``, ``BulkheadFull``,
``DeadlineExceeded``, ``PaceTimeout``, ``GaveUp``, ``DependencyUnavailable``, ...) derives from
``ReferenceAppError``, so "one of ours, decided on purpose" is one ``except``, and what a client
sees for each is written in one place: http_errors.py. Errors of the libraries the app calls
(openai, chromadb, httpx) are not ours; the kit's handler answers those (502 naming the
dependency).
"""

from __future__ import annotations

__all__ = ["ReferenceAppError"]


class ReferenceAppError(Exception):
    """An error of the reference app's own mechanisms (mapped to HTTP in http_errors.py)."""
