"""The master side of a distributed run: Locust master in this process, N worker processes.

Same interface as ``scenarios.drive.LoadDriver`` (prepare, start, phase_event, drain, stop).
Workers are ``python -m ragchaos.scenarios.worker`` processes started and stopped by PID
(``ragchaos.core.procs``); they record with their own ``reports.recorder.Recorder`` and ship it to
the master (``worker_report`` every few seconds, ``ragchaos_final`` at the end), where it is
merged exactly into the run's recorder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User
from locust.env import Environment

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.core.procs import ManagedProcess, ProcessStartError, python_module_argv
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loads import ArrivalLoad, UserLoad
from ragchaos.scenarios.shapes import stages_shape
from ragchaos.scenarios.users import closed_user_class, open_user_class

__all__ = ["DistributedDriver"]


class DistributedDriver:
    def __init__(self, ctx: RunContext, workers: int, scenario_file: Path, log_dir: Path) -> None:
        self.ctx = ctx
        self.scenario = ctx.scenario
        self.n = workers
        self.scenario_file = scenario_file
        self.log_dir = log_dir
        self.processes: list[ManagedProcess] = []
        self.env: Environment | None = None
        self.finals: dict[int, dict[str, Any]] = {}

    @property
    def runner(self) -> Any:
        assert self.env is not None
        return self.env.runner

    def prepare(self) -> None:
        load = self.scenario.load
        if isinstance(load, UserLoad) and self.scenario.workload.ingest_bursts:
            raise ValueError("--workers: ingest_bursts of a closed-model scenario are not supported; "
                             "use an open model (load: {kind: arrivals}) or run without --workers")
        classes: list[type[User]]
        if isinstance(load, ArrivalLoad):
            per_worker = -(-load.max_in_flight // self.n)  # ceil: each worker's share of the pool
            classes = [open_user_class(app, url, self.ctx, None, None, per_worker * self.n)
                       for app, url in self.ctx.apps.items()]
            self.env = Environment(user_classes=classes)
        else:
            classes = [closed_user_class(app, url, self.ctx, load.think_time) for app, url in self.ctx.apps.items()]
            self.env = Environment(user_classes=classes, shape_class=stages_shape(load, len(classes))())
        port = free_port()
        master = self.env.create_master_runner(LOOPBACK, port)
        master.register_message("ragchaos_final", self._on_final)
        self.env.events.worker_report.add_listener(self._on_report)
        for i in range(self.n):
            proc = ManagedProcess(
                f"locust-worker-{i}",
                python_module_argv("ragchaos.scenarios.worker", "--master-port", str(port), "--scenario",
                                   str(self.scenario_file), "--apps", json.dumps(self.ctx.apps),
                                   "--index", str(i), "--count", str(self.n)),
                log_path=self.log_dir / f"locust-worker-{i}.log",
            )
            self.processes.append(proc.start())
        deadline = time.monotonic() + 60
        while len(master.clients.ready) < self.n:
            for p in self.processes:
                if not p.alive():
                    raise ProcessStartError(f"{p.name} exited{p._log_tail()}")
            if time.monotonic() > deadline:
                raise ProcessStartError(f"only {len(master.clients.ready)} of {self.n} Locust workers connected")
            gevent.sleep(0.1)
        if isinstance(load, ArrivalLoad):
            total = sum(c.fixed_count for c in self.env.user_classes)
            master.start(total, spawn_rate=max(total, 1))
            deadline = time.monotonic() + 60
            while master.user_count < total and time.monotonic() < deadline:
                gevent.sleep(0.1)

    def _on_report(self, client_id: str, data: dict[str, Any]) -> None:
        part = data.get("ragchaos")
        if part:
            self.ctx.recorder.merge(part["recorder"])
            self.ctx.merge_tally(part["tally"])

    def _on_final(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data
        self.ctx.recorder.merge(data["recorder"])
        self.ctx.merge_tally(data["tally"])
        self.finals[int(data["index"])] = data

    def start(self, t0: float) -> None:
        # which workers hold users of each class: they split that app's arrivals between them
        assign: dict[str, list[str]] = {}
        for client in self.runner.clients.values():
            for cls, n in (client.user_classes_count or {}).items():
                if n > 0:
                    assign.setdefault(cls, []).append(client.id)
        self.runner.send_message("ragchaos_start", {"t0": t0, "assign": {k: sorted(v) for k, v in assign.items()}})
        if isinstance(self.scenario.load, UserLoad):
            self.runner.start_shape()

    def phase_event(self, name: str, event: str, t: float) -> None:
        self.runner.send_message("ragchaos_phase", {"name": name, "event": event, "t": t})

    def drain(self, timeout_s: float) -> None:
        """Stop the load and wait for every worker's final report (all it recorded)."""
        if isinstance(self.scenario.load, UserLoad):
            self.runner.stop()
        self.runner.send_message("ragchaos_stop")
        deadline = time.monotonic() + timeout_s + 10.0
        while len(self.finals) < self.n and time.monotonic() < deadline:
            gevent.sleep(0.1)

    def dispatch_stats(self) -> dict[str, dict[str, Any]]:
        """Per app, the workers' dispatch counts added up, and ``workers``: what each worker
        (by index) sent of that app's arrivals, so a split of one app's load can be seen."""
        out: dict[str, dict[str, Any]] = {}
        for index, final in sorted(self.finals.items()):
            for app, stats in final.get("dispatch", {}).items():
                cur = out.setdefault(app, {"workers": {}})
                for k, v in stats.items():
                    cur[k] = max(cur.get(k, 0), v) if k == "max_lag_s" else cur.get(k, 0) + v
                cur["workers"][str(index)] = stats.get("sent", 0)
        return out

    def stop(self) -> None:
        if self.env is not None and self.env.runner is not None:
            self.env.runner.quit()
        for p in reversed(self.processes):
            p.stop(grace=3.0)
        self.processes.clear()
