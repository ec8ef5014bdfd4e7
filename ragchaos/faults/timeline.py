"""The fault timeline: apply and revert a scenario's fault steps on time, and record when they really happened.

Synchronous on purpose (blocking HTTP, injected ``clock`` and ``sleep``): the runner runs it in a
gevent greenlet next to Locust or in a plain thread. ``run()`` always ends with ``revert_all()``,
also after an error or Ctrl-C; ``revert_all()`` is idempotent and safe to call again from the
caller's own ``finally``.

    tl = Timeline(steps, toxiproxy=client, provider_control_url="http://127.0.0.1:9000", apps=["naive", "reference"])
    problems = tl.validate()            # all of them, before anything runs
    for p in tl.plan(): print(p.describe())   # a dry run
    records = tl.run(duration_s=120)    # blocks; records[i].applied_at_s etc. label the report's phases
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ragchaos.faults.appliers import Applier, NetworkApplier, ProviderApplier, ProxyNamer, default_proxy_name
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.step import DEFAULT_APPS, FaultStep, PlannedFault, Resolver

__all__ = ["FaultRecord", "Timeline"]


@dataclass
class FaultRecord:
    """One step on one app: planned and actual times (seconds from the run start) and any error."""

    name: str
    target: str
    dependency: str
    what: str
    planned_apply_s: float
    planned_revert_s: float | None
    applied_at_s: float | None = None
    reverted_at_s: float | None = None
    error: str | None = None

    def results_entry(self) -> dict[str, Any]:
        """The ``faults[]`` entry of results.json (docs/contracts.md)."""
        keys = ("name", "target", "dependency", "what", "applied_at_s", "reverted_at_s", "error")
        data = asdict(self)
        return {k: data[k] for k in keys}


@dataclass
class _Slot:
    step: FaultStep
    planned: PlannedFault
    record: FaultRecord
    handle: Any = None
    applied: bool = False
    done: bool = False  # reverted, or given up on


class Timeline:
    def __init__(
        self,
        steps: Sequence[FaultStep],
        *,
        toxiproxy: ToxiproxyClient | None = None,
        provider_control_url: str | None = None,
        proxy_name: ProxyNamer = default_proxy_name,
        apps: Sequence[str] = DEFAULT_APPS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.25,
        appliers: dict[str, Applier] | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self.steps = list(steps)
        self.resolve = resolve  # a step's role -> each target's dependency name
        self.apps = list(apps)
        self.clock = clock
        self.sleep = sleep
        self.poll_s = poll_s  # longest single sleep, so stop() is noticed quickly
        self.appliers: dict[str, Applier] = dict(appliers or {})
        if "network" not in self.appliers and toxiproxy is not None:
            self.appliers["network"] = NetworkApplier(toxiproxy, proxy_name)
        if "provider" not in self.appliers and provider_control_url:
            self.appliers["provider"] = ProviderApplier(provider_control_url)
        self._slots = [
            # each slot's step names its target's dependency: the appliers need a name, not a role
            _Slot(step.model_copy(update={"dependency": p.dependency, "role": None, "name": step.step_name}), p,
                  FaultRecord(p.step, p.target, p.dependency, p.what, p.apply_at_s, p.revert_at_s))
            for step in self.steps
            for p in step.plan(self.apps, resolve=resolve)
        ]
        self._slots.sort(key=lambda s: s.planned.apply_at_s)
        self._t0: float | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()

    # -- before the run -------------------------------------------------------------------
    def validate(self, run_duration_s: float | None = None) -> list[str]:
        errors: list[str] = []
        seen: set[str] = set()
        for step in self.steps:
            errors += step.validate(self.apps, run_duration_s)
            if step.step_name in seen:
                errors.append(f"fault step {step.step_name!r}: the name is used twice; give each step its own name")
            seen.add(step.step_name)
            if step.fault.channel not in self.appliers:
                how = "a Toxiproxy client" if step.fault.channel == "network" else "the provider's control URL"
                errors.append(f"fault step {step.step_name!r}: {step.fault.channel} faults need {how}")
        return errors

    def plan(self, run_duration_s: float | None = None) -> list[PlannedFault]:
        return [p for step in self.steps for p in step.plan(self.apps, run_duration_s, self.resolve)]

    # -- running ----------------------------------------------------------------------------
    @property
    def records(self) -> list[FaultRecord]:
        return [s.record for s in self._slots]

    def elapsed(self) -> float:
        return 0.0 if self._t0 is None else self.clock() - self._t0

    def start(self, t0: float | None = None) -> None:
        """Mark the run start (the caller's own start time may be passed, from the same clock)."""
        self._t0 = self.clock() if t0 is None else t0

    def stop(self) -> None:
        """Ask ``run()`` to finish early (it then reverts everything); safe from any thread."""
        self._stop.set()

    def tick(self) -> float | None:
        """Do every apply/revert that is due; the seconds until the next one (None: nothing left)."""
        if self._t0 is None:
            self.start()
        now = self.elapsed()
        next_due: float | None = None
        # reverts before applies, so a step ending at t frees its proxy for a step starting at t
        for slot in self._slots:
            if slot.applied and not slot.done and slot.planned.revert_at_s is not None:
                if slot.planned.revert_at_s <= now:
                    self._revert(slot)
                else:
                    next_due = _min(next_due, slot.planned.revert_at_s - now)
        for slot in self._slots:
            if not slot.applied and not slot.done:
                if slot.planned.apply_at_s <= now:
                    self._apply(slot)
                    if slot.applied and slot.planned.revert_at_s is not None:
                        next_due = _min(next_due, max(slot.planned.revert_at_s - self.elapsed(), 0.0))
                else:
                    next_due = _min(next_due, slot.planned.apply_at_s - now)
        return next_due

    def run(self, duration_s: float | None = None) -> list[FaultRecord]:
        """Block until ``duration_s`` after the start (or until ``stop()``), then revert all."""
        if self._t0 is None:
            self.start()
        try:
            while not self._stop.is_set():
                wait = self.tick()
                if duration_s is not None:
                    left = duration_s - self.elapsed()
                    if left <= 0:
                        break
                    wait = left if wait is None else min(wait, left)
                self.sleep(min(self.poll_s, wait) if wait is not None else self.poll_s)
        finally:
            self.revert_all()
        return self.records

    def revert_all(self) -> list[FaultRecord]:
        """Revert every applied fault not yet reverted (idempotent); steps not yet applied never will be."""
        with self._lock:
            for slot in reversed(self._slots):
                if slot.applied and not slot.done:
                    self._revert(slot)
                slot.done = True
        return self.records

    # -- one action -------------------------------------------------------------------------
    def _apply(self, slot: _Slot) -> None:
        with self._lock:
            if slot.done or slot.applied:
                return
            applier = self.appliers.get(slot.step.fault.channel)
            try:
                if applier is None:
                    raise RuntimeError(f"no way to apply {slot.step.fault.channel} faults in this run")
                duration = None
                if slot.planned.revert_at_s is not None:
                    duration = slot.planned.revert_at_s - slot.planned.apply_at_s
                slot.handle = applier.apply(slot.step, slot.planned.target, duration)
            except Exception as exc:  # recorded for the report; the run goes on
                slot.record.error = f"apply: {exc}"
                slot.done = True
                return
            slot.applied = True
            slot.record.applied_at_s = round(self.elapsed(), 6)

    def _revert(self, slot: _Slot) -> None:
        with self._lock:
            if slot.done or not slot.applied:
                return
            slot.done = True
            try:
                self.appliers[slot.step.fault.channel].revert(slot.step, slot.planned.target, slot.handle)
            except Exception as exc:
                slot.record.error = _join(slot.record.error, f"revert: {exc}")
            slot.record.reverted_at_s = round(self.elapsed(), 6)


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _join(a: str | None, b: str) -> str:
    return b if not a else f"{a}; {b}"
