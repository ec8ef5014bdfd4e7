"""Drive a scenario's load at one or more apps with Locust, in this process.

``LoadDriver`` builds the user classes (``scenarios.users``) for the apps, a Locust
``Environment`` and a local runner, and then either follows the closed model's stages with a
``LoadTestShape`` or runs the open model: a fixed pool of ``OpenUser`` per app fed by one
``Dispatcher`` per app, all walking the same seeded arrival plan (the same load for every app).
Ingest bursts of a closed-model scenario get their own dispatcher.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from gevent.queue import Queue
from locust import User
from locust.env import Environment

from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loads import ArrivalLoad, UserLoad
from ragchaos.scenarios.requests import RequestSource, is_poison, plan_arrivals
from ragchaos.scenarios.schedule import Arrival, Dispatcher
from ragchaos.scenarios.shapes import stages_shape
from ragchaos.scenarios.users import closed_user_class, open_user_class

__all__ = ["LoadDriver"]

_BURST_POOL = 32


class LoadDriver:
    def __init__(self, ctx: RunContext, *, web_ui: bool = False) -> None:
        self.ctx = ctx
        self.scenario = ctx.scenario
        self.web_ui = web_ui
        self.dispatchers: dict[str, Dispatcher] = {}
        self._queues: dict[str, Queue] = {}  # app -> the queue its dispatcher feeds
        self._greenlets: list[gevent.Greenlet] = []
        self.env: Environment | None = None
        self.burst_env: Environment | None = None
        self.web: Any = None

    # ---- setting up --------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the environment and start the users (open model: the idle pools)."""
        # the open model's idle pools spawn at once on purpose; Locust warns above 100 users/s
        logging.getLogger("locust.runners").setLevel(logging.ERROR)
        load = self.scenario.load
        if isinstance(load, ArrivalLoad):
            plan = plan_arrivals(self.ctx.bench)
            classes: list[type[User]] = []
            for app, url in self.ctx.apps.items():
                queue: Queue = Queue()
                d = self._dispatcher(app, plan, queue, load.max_in_flight)
                classes.append(open_user_class(app, url, self.ctx, queue, d.finished, load.max_in_flight))
            self.env = Environment(user_classes=classes)
            runner = self.env.create_local_runner()
            total = load.max_in_flight * len(classes)
            runner.start(total, spawn_rate=max(total, 1))
            self._wait_spawned(total)
        else:
            assert isinstance(load, UserLoad)
            classes = [closed_user_class(app, url, self.ctx, load.think_time) for app, url in self.ctx.apps.items()]
            self.env = Environment(user_classes=classes, shape_class=stages_shape(load, len(classes))())
            self.env.create_local_runner()
            bursts = self._burst_plan()
            if bursts:  # a closed-model run's document batches: small open pools of their own
                pools: list[type[User]] = []
                for app, url in self.ctx.apps.items():
                    queue = Queue()
                    d = self._dispatcher(app, bursts, queue, _BURST_POOL)
                    pools.append(open_user_class(app, url, self.ctx, queue, d.finished, _BURST_POOL))
                self.burst_env = Environment(user_classes=pools)
                self.burst_env.create_local_runner().start(_BURST_POOL * len(pools), spawn_rate=1000)
        if self.web_ui:
            self.web = self.env.create_web_ui("127.0.0.1", 0)

    def _dispatcher(self, app: str, plan: list[Arrival], queue: Queue, limit: int) -> Dispatcher:
        def send(arrival: Arrival, intended: float, now: float) -> None:
            queue.put((arrival.payload, intended))

        d = Dispatcher(plan, send, clock=time.time, sleep=gevent.sleep, max_in_flight=limit,
                       on_drop=lambda arrival, intended: self._on_drop(app, arrival, intended))
        self._queues[app] = queue
        self.dispatchers[app] = d
        return d

    def _on_drop(self, app: str, arrival: Arrival, intended: float) -> None:
        self.ctx.dropped(app, arrival.payload, intended)

    def _burst_plan(self) -> list[Arrival]:
        source = RequestSource(self.ctx.bench, "burst")
        out = []
        for burst in self.scenario.workload.ingest_bursts:
            for i in range(burst.documents):
                tenant = burst.tenant or self.ctx.bench.mix.pick_tenant(source.rng)
                spec = source.ingest(tenant, poison=is_poison(i, burst.poison_share))
                out.append((burst.at + burst.over * (i + 0.5) / burst.documents, spec))
        out.sort(key=lambda x: x[0])
        return [Arrival(t, i, spec) for i, (t, spec) in enumerate(out)]

    def _wait_spawned(self, total: int, timeout: float = 60.0) -> None:
        assert self.env is not None and self.env.runner is not None
        deadline = time.monotonic() + timeout
        while self.env.runner.user_count < total and time.monotonic() < deadline:
            gevent.sleep(0.05)

    # ---- running -------------------------------------------------------------------------------

    def start(self, t0: float) -> None:
        """Begin the load at ``t0`` (epoch seconds)."""
        assert self.env is not None and self.env.runner is not None
        if isinstance(self.scenario.load, UserLoad):
            self.env.runner.start_shape()
        for d in self.dispatchers.values():
            self._greenlets.append(gevent.spawn(d.run, t0))

    def phase_event(self, name: str, event: str, t: float) -> None:
        """Faults are labelled by the context's own phase clock in this process: nothing to forward."""

    def drain(self, timeout_s: float) -> None:
        """Stop sending; give requests already sent up to one request timeout to come back."""
        for d in self.dispatchers.values():
            d.stop()
        for env in (self.env, self.burst_env):
            if env is not None and env.runner is not None and env.shape_class is not None:
                env.runner.stop()  # closed model: users stop after their current request
        deadline = time.monotonic() + timeout_s + 1.0
        while time.monotonic() < deadline and any(d.in_flight > 0 for d in self.dispatchers.values()):
            gevent.sleep(0.1)
        if self.env is not None and self.env.runner is not None and self.env.shape_class is not None:
            while time.monotonic() < deadline and self.env.runner.user_count > 0:
                gevent.sleep(0.1)

    def dispatch_stats(self) -> dict[str, dict[str, object]]:
        return {app: vars(d.stats) for app, d in self.dispatchers.items()}

    def stop(self) -> None:
        for app, d in self.dispatchers.items():
            d.stop()
            self._queues[app].put(None)
        for g in self._greenlets:
            g.kill(block=False)
        for env in (self.env, self.burst_env):
            if env is not None and env.runner is not None:
                env.runner.quit()
        if self.web is not None:
            self.web.stop()
            self.web = None
