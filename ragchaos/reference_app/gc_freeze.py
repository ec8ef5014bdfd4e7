"""Freeze the startup heap so the garbage collector's full passes stop stalling every request.

CPython's cyclic collector walks every tracked object in its oldest generation on a full pass.
After startup the reference app holds about 200,000 of them (the SDK, Chroma's client,
pydantic's validators, FastAPI's routes), none of which will ever become garbage; with the
caches' entries on top, a full pass took 150-230 ms every ~15 s under a cache-miss-heavy
variant of the ci scenario (``benchmarks/bench_gc_freeze.py``): a stop-the-world pause that holds every in-flight request,
lands in the p99 and, because it strikes one process at random times, makes two copies of
the same build disagree. ``gc.freeze()`` moves the objects alive at the end of startup into a
permanent generation that no pass visits; objects made later are collected as before. The same
lesson is Instagram's (2017) and the reason ``gc.freeze`` exists (Python 3.7, bpo-31558). The
freeze itself is ``ragchaos.core.heap.freeze_heap``, which the harness uses too.

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
