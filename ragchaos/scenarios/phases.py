"""Which phase each moment of a run belongs to, from the load's labels and the recorded faults.

The rule, in order of precedence, for a moment ``t`` seconds into the run:
1. before ``warmup`` seconds: ``warmup``;
2. inside a load stage labelled ``phase: <name>`` (e.g. ``spike``): that name;
3. while at least one fault is applied (from its *recorded* apply time to its recorded revert
   time): ``fault`` (the second separate fault period ``fault-2``, and so on; a fault applied
   within ``merge_gap_s`` of the end of the last period continues it);
4. after a fault period ended: ``recovery`` (``recovery-2`` after the second);
5. otherwise ``steady``.
The live view and the recorder ask ``PhaseClock.at(t)`` while the run goes on (a label only
depends on what has already happened); ``PhaseClock.phases(end)`` lists the spans at the end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["PHASE_KINDS", "PhaseClock", "PhaseSpan", "phase_kind"]

PHASE_KINDS = ("steady", "fault", "recovery", "spike", "warmup")


def phase_kind(name: str) -> str:
    """The kind of a phase name: ``fault-2`` is a fault; an unknown label counts as steady."""
    base = name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name
    return base if base in PHASE_KINDS else "steady"


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    kind: str
    start_s: float
    end_s: float


class PhaseClock:
    """Phase labels from static stage labels plus fault windows recorded as they happen."""

    def __init__(self, stage_labels: list[tuple[float, float, str | None]], warmup_s: float = 0.0,
                 merge_gap_s: float = 1.0) -> None:
        self._stages = [(s, e, p) for s, e, p in stage_labels if p]
        self._warmup = warmup_s
        # a fault applied within this long after the last period ended continues that period
        # (one step hands over to the next: latency, then timeouts), rather than leaving a
        # recovery phase of a few milliseconds between them
        self._merge_gap = merge_gap_s
        self._lock = threading.Lock()
        self._active: dict[str, float] = {}  # fault name -> applied at (s)
        self._windows: list[tuple[float, float | None]] = []  # fault periods (union of overlapping faults)

    def applied(self, fault: str, t: float) -> None:
        with self._lock:
            if not self._active:
                last = self._windows[-1] if self._windows else None
                if last is not None and last[1] is not None and t - last[1] <= self._merge_gap:
                    self._windows[-1] = (last[0], None)
                else:
                    self._windows.append((t, None))
            self._active[fault] = t

    def reverted(self, fault: str, t: float) -> None:
        with self._lock:
            if self._active.pop(fault, None) is None:
                return
            if not self._active and self._windows:
                start, _ = self._windows[-1]
                self._windows[-1] = (start, max(t, start))

    def at(self, t: float) -> str:
        if t < self._warmup:
            return "warmup"
        for stage_start, stage_end, stage_label in self._stages:
            if stage_start <= t < stage_end:
                return stage_label
        with self._lock:
            windows = list(self._windows)
        label = "steady"
        for i, (start, end) in enumerate(windows):
            suffix = "" if i == 0 else f"-{i + 1}"
            if t < start:
                break
            if end is None or t < end:
                return f"fault{suffix}"
            label = f"recovery{suffix}"
        return label

    def phases(self, end_s: float) -> list[PhaseSpan]:
        """Contiguous spans of equal label from 0 to ``end_s``, cut at every boundary."""
        cuts = {0.0, end_s, self._warmup}
        for s, e, _ in self._stages:
            cuts.update((s, e))
        with self._lock:
            for fault_start, fault_end in self._windows:
                cuts.add(fault_start)
                if fault_end is not None:
                    cuts.add(fault_end)
        points = sorted(c for c in cuts if 0.0 <= c <= end_s)
        spans: list[PhaseSpan] = []
        for a, b in zip(points, points[1:], strict=False):
            if b <= a:
                continue
            name = self.at(a)
            if spans and spans[-1].name == name:
                last = spans[-1]
                spans[-1] = PhaseSpan(name, last.kind, last.start_s, b)
            else:
                spans.append(PhaseSpan(name, phase_kind(name), a, b))
        return spans
