"""Freeze the startup heap so the garbage collector's full passes stay short.

CPython's cyclic collector walks every tracked object in its oldest generation on a full pass.
After startup the reference app holds about 200,000 of them (the SDK, Chroma's client,
pydantic's validators, FastAPI's routes), none of which will ever become garbage. A full pass
stops the whole process: under a cache-miss-heavy variant of the ci scenario one came every
~19 s and took 205-226 ms on average; frozen, 53-66 ms (``benchmarks/bench_gc_freeze.py``, two
runs). Measured there, that is 3.4-3.8x less time standing still, but no lower end-to-end p99:
too few requests meet a pause to move it. ``gc.freeze()`` moves the objects alive at the end
of startup into a permanent generation that no pass visits; objects made later are collected
as before. The lesson is Instagram's (2017) and the reason ``gc.freeze`` exists (Python 3.7,
bpo-31558). The freeze itself is ``ragchaos.core.heap.freeze_heap``, which the harness uses too.

Switch: ``RAGCHAOS_DISABLE=gc_freeze``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FullPassWatch"]


class FullPassWatch:
    """Times every full pass of the collector (``gc.callbacks``) into ``observe(seconds)``, so
    the pauses are a metric (``ragchaos_gc_full_pass_seconds``) with the freeze on or off."""

    def __init__(self, observe: Callable[[float], None], clock: Callable[[], float] = time.perf_counter) -> None:
        self._observe = observe
        self._clock = clock
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = self._clock()
        elif self._started is not None:
            self._observe(self._clock() - self._started)
            self._started = None

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
