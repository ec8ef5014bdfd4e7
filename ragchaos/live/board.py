"""The fault board: what the page's fault buttons do, through the same appliers a scenario uses.

``press(preset, target)`` builds a ``FaultStep`` from the preset (``presets.py``) aimed at both
apps or one, applies it with the faults part's appliers (network faults as toxics on the
app's own proxy, provider faults on the provider's control API for the app's key), and keeps a
``BandRecord`` per press: the band the charts shade from ``start`` to ``end``. ``clear`` and
``clear_all`` revert; a fault left on is cleared by itself after ``max_fault_s``, and
``close()`` clears everything (``ragchaos up`` calls it before stopping the stack).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragchaos.faults.appliers import Applier
from ragchaos.faults.step import FaultStep
from ragchaos.live.errors import FaultError
from ragchaos.live.presets import get_preset

__all__ = ["BandRecord", "FaultBoard", "FaultError"]


@dataclass
class BandRecord:
    id: str
    preset: str
    label: str
    dependency: str
    targets: list[str]
    start: float  # epoch seconds: when the fault was in place
    end: float | None = None
    source: str = "button"  # button | scenario
    error: str | None = None
    _step: Any = None
    _handles: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "preset": self.preset, "label": self.label, "dependency": self.dependency,
                "targets": self.targets, "start": self.start, "end": self.end, "source": self.source,
                "error": self.error}


class FaultBoard:
    def __init__(self, appliers: dict[str, Applier], apps: Sequence[str], *, max_fault_s: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.appliers = appliers
        self.apps = list(apps)
        self.max_fault_s = max_fault_s
        self.clock = clock
        self.bands: list[BandRecord] = []
        # told (name, "applied" | "reverted", epoch seconds) when a button's fault is really in
        # place and really gone: ``ragchaos up`` labels phases from it as a scenario run does
        self.listeners: list[Callable[[str, str, float], None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def press(self, preset_name: str, target: str = "both") -> BandRecord:
        try:
            preset = get_preset(preset_name)
        except KeyError as exc:
            raise FaultError(str(exc.args[0])) from None
        if target not in ("both", *self.apps):
            raise FaultError(f"unknown target {target!r}; one of: both, {', '.join(self.apps)}")
        targets = list(self.apps) if target == "both" else [target]
        applier = self.appliers.get(preset.fault.channel)
        if applier is None:
            raise FaultError(f"{preset.label}: no {preset.fault.channel} fault channel in this stack")
        with self._lock:
            if any(b.end is None and b.preset == preset.name and set(b.targets) & set(targets) for b in self.bands):
                raise FaultError(f"{preset.label} is already on for {target}; clear it first")
            n = next(self._ids)
        step = FaultStep(name=f"live-{preset.name}-{n}", dependency=preset.dependency, fault=preset.fault,
                         app=targets)
        band = BandRecord(f"f{n}", preset.name, preset.label, preset.dependency, targets, start=0.0, _step=step)
        try:
            for app in targets:
                band._handles[app] = applier.apply(step, app, self.max_fault_s)
        except Exception as exc:
            self._revert(band, applier)  # half a fault is worse than none
            raise FaultError(f"{preset.label}: could not apply: {exc}") from None
        band.start = self.clock()
        with self._lock:
            self.bands.append(band)
        self._tell(band.id, "applied", band.start)
        return band

    def _tell(self, name: str, event: str, t: float) -> None:
        for listener in self.listeners:
            listener(name, event, t)

    def _revert(self, band: BandRecord, applier: Applier) -> None:
        errors = []
        for app, handle in list(band._handles.items()):
            try:
                applier.revert(band._step, app, handle)
                del band._handles[app]
            except Exception as exc:  # keep going: every other app's fault must still come off
                errors.append(f"{app}: {exc}")
        if errors:
            band.error = "; ".join(errors)

    def clear(self, band_id: str) -> BandRecord:
        with self._lock:
            band = next((b for b in self.bands if b.id == band_id), None)
        if band is None:
            raise FaultError(f"no fault {band_id!r} on the board")
        if band.end is None:
            if band.source == "button":
                self._revert(band, self.appliers[band._step.fault.channel])
            band.end = self.clock()
            if band.source == "button":
                self._tell(band.id, "reverted", band.end)
        return band

    def clear_all(self) -> list[BandRecord]:
        return [self.clear(b.id) for b in self.active() if b.source == "button"]

    def active(self) -> list[BandRecord]:
        with self._lock:
            return [b for b in self.bands if b.end is None]

    def expire(self) -> list[BandRecord]:
        """Clear the button faults that have been on for ``max_fault_s``."""
        now = self.clock()
        return [self.clear(b.id) for b in self.active()
                if b.source == "button" and now - b.start >= self.max_fault_s]

    # a scenario's own faults (run --live) are drawn as bands too, but the board does not own them
    def scenario_event(self, name: str, event: str, t_epoch: float) -> None:
        with self._lock:
            if event == "applied":
                step, _, target = name.rpartition("@")
                self.bands.append(BandRecord(f"s{next(self._ids)}", step, step, "", [target], t_epoch,
                                             source="scenario"))
            else:
                for b in self.bands:
                    if b.source == "scenario" and b.end is None and f"{b.preset}@{b.targets[0]}" == name:
                        b.end = t_epoch
                        break

    def close(self) -> None:
        self.clear_all()

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [b.to_json() for b in self.bands[-100:]]
