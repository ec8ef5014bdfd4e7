"""``ragchaos run SCENARIO --live``: the same page, watching a scenario run instead of driving one.

``LiveRunObserver`` is the runner's ``RunObserver``: it starts the page before the stack (the
room sees "starting the stack", then the seeding), attaches to the run's own context when the
load starts (the frames come from the run's recorder, the one the report is written from),
draws each of the scenario's faults as a band when the timeline really applies it and the
phase labels as the run's phase clock gives them, and links the report when the run folder is
complete. The controls are off: the scenario decides the load and the faults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragchaos.live.board import FaultBoard
from ragchaos.live.notes import CheckNotes, MechanismNotes, ObservationNotes
from ragchaos.live.server import LiveServer
from ragchaos.live.session import Attachment, LiveSession
from ragchaos.live.settings import LiveSettings
from ragchaos.live.wiring import feeds_for

__all__ = ["LiveRunObserver"]


class LiveRunObserver:
    def __init__(self, settings: LiveSettings, print_fn: Callable[[str], Any] = print) -> None:
        self.settings = dataclasses.replace(settings, controls=False)
        self.print_fn = print_fn
        self.session = LiveSession(self.settings)
        self.server = LiveServer(self.settings, self.session)
        self.board: FaultBoard | None = None

    def start(self) -> None:
        self.server.start()
        self.session.start()
        self.print_fn(f"ragchaos: live view {self.server.url}")

    def print(self, line: str) -> None:
        """The run's own output, also shown on the page's status line."""
        self.print_fn(line)
        self.session.say(line.removeprefix("ragchaos: "))

    def leg_started(self, ctx: Any, stack: Any) -> None:
        scenario = ctx.scenario
        apps = list(ctx.apps)
        self.session.configure(slo_ms={k: v * 1000.0 for k, v in scenario.slo.items()} or None, apps=apps)
        self.session.sources = [MechanismNotes(self.settings.min_requests), CheckNotes(scenario.checks),
                                ObservationNotes()]
        self.board = FaultBoard({}, apps)
        self.session.attach(Attachment(ctx, feeds_for(stack, apps), board=self.board, phase_of=ctx.phase_at))

    def fault_event(self, name: str, event: str, t_epoch: float) -> None:
        if self.board is not None:
            self.board.scenario_event(name, event, t_epoch)
            self.session.publish()

    def run_finished(self, run_dir: Path) -> None:
        report = run_dir / "report.html"
        self.session.finished(report if report.exists() else None)

    def close(self) -> None:
        self.session.stop()
        self.server.stop()
