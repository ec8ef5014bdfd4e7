"""The process's heap out of the garbage collector's full passes, for a long-lived process.

``gc.freeze()`` moves every object alive now into a permanent generation that no collection
visits, so a full pass walks only what was made after. A server calls it once its start-up is
done (reference_app/gc_freeze.py says why and what it measured); the harness calls it before
its clock starts and ``gc.unfreeze()`` when the leg ends. The freeze is process-wide.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_heap"]


def freeze_heap() -> int:
    """Collect once, then freeze what survives; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
