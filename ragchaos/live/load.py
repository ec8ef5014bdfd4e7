"""The load the page starts, stops and sets: two strategies behind one ``LoadStrategy`` protocol.

- ``ArrivalRateLoad`` (open model, the default): one feeder sends the *same* request to every app
  at each intended time, ``rate`` times a second; a pool of ``OpenUser`` per app takes them off
  its queue, and a request that would exceed ``max_in_flight`` for an app is dropped and counted
  (as the scenario runner's dispatcher does). Requests are timed from their intended send, so a
  slow app's queueing shows in its latency.
- ``ClosedUsersLoad`` (closed model): ``users`` Locust users per app, each sending, waiting for its
  answer, thinking ``think_time_s``, sending again.

``LoadControl`` keeps the one in use, its level, and a log of changes (drawn as lines on the
charts); ``spike()`` doubles the level. Every level is bounded (``LiveSettings``) and every load
stops by itself after ``max_load_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gevent
from gevent.queue import Queue
from locust import User
from locust.env import Environment

from ragchaos.live.errors import LoadError
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.requests import RequestSource
from ragchaos.scenarios.users import closed_user_class, open_user_class

__all__ = ["ArrivalRateLoad", "ClosedUsersLoad", "LoadControl", "LoadError", "LoadEvent", "LoadStrategy"]


class LoadStrategy(Protocol):
    mode: str  # "rate" | "users"
    unit: str

    @property
    def level(self) -> float: ...

    def set(self, level: float) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class ArrivalRateLoad:
    mode = "rate"
    unit = "req/s per app"

    def __init__(self, ctx: RunContext, *, max_in_flight: int = 64, sleep: Callable[[float], Any] = gevent.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.max_in_flight = max_in_flight
        self.sleep = sleep
        self.clock = clock
        self._rate = 0.0
        self._feeder: gevent.Greenlet | None = None
        self._queues: dict[str, Queue] = {}
        self.in_flight: dict[str, int] = {}
        self.source = RequestSource(ctx.bench, "live-arrivals")
        logging.getLogger("locust.runners").setLevel(logging.ERROR)  # the pools spawn at once on purpose
        classes: list[type[User]] = []
        for app, url in ctx.apps.items():
            queue: Queue = Queue()
            self._queues[app] = queue
            self.in_flight[app] = 0
            classes.append(open_user_class(app, url, ctx, queue, self._done_for(app), max_in_flight))
        self.env = Environment(user_classes=classes)
        self.runner = self.env.create_local_runner()
        total = max_in_flight * len(classes)
        self.runner.start(total, spawn_rate=max(total, 1))

    def _done_for(self, app: str) -> Callable[[], None]:
        def done() -> None:
            self.in_flight[app] -= 1
        return done

    @property
    def level(self) -> float:
        return self._rate

    def set(self, level: float) -> None:
        self._rate = float(level)
        if self._rate > 0 and (self._feeder is None or self._feeder.dead):
            self._feeder = gevent.spawn(self._feed)

    def _feed(self) -> None:
        """Arrivals at the current rate, evenly spaced; a change of rate applies from the next one."""
        next_at = self.clock()
        while self._rate > 0:
            now = self.clock()
            if next_at > now:
                self.sleep(next_at - now)
                continue
            spec = self.source.next()
            for app, queue in self._queues.items():
                if self.in_flight[app] >= self.max_in_flight:
                    self.ctx.dropped(app, spec, next_at)
                    continue
                self.in_flight[app] += 1
                queue.put((spec, next_at))
            # behind by more than a second (a stalled process): do not send a burst to catch up
            next_at = max(next_at + 1.0 / self._rate, self.clock() - 1.0)

    def stop(self) -> None:
        self._rate = 0.0

    def close(self) -> None:
        self.stop()
        if self._feeder is not None:
            self._feeder.kill(block=False)
        for queue in self._queues.values():
            queue.put(None)
        self.runner.quit()


class ClosedUsersLoad:
    mode = "users"
    unit = "users per app"

    def __init__(self, ctx: RunContext, *, think_time_s: float = 0.5) -> None:
        self.ctx = ctx
        classes: list[type[User]] = [closed_user_class(app, url, ctx, think_time_s) for app, url in ctx.apps.items()]
        self.apps = len(classes)
        self.env = Environment(user_classes=classes)
        self.runner = self.env.create_local_runner()
        self._users = 0

    @property
    def level(self) -> float:
        return float(self._users)

    def set(self, level: float) -> None:
        self._users = int(level)
        if self._users <= 0:
            self.stop()
            return
        # Locust splits users over classes of equal weight evenly: users per app x apps
        total = self._users * self.apps
        self.runner.start(total, spawn_rate=max(total, 1))

    def stop(self) -> None:
        self._users = 0
        if self.runner.user_count:
            self.runner.stop()

    def close(self) -> None:
        self.runner.quit()


@dataclass(frozen=True)
class LoadEvent:
    t: float  # epoch seconds
    text: str


class LoadControl:
    """Which strategy is in use and at what level; what the page's load buttons call."""

    def __init__(self, strategies: dict[str, Callable[[], LoadStrategy]], *, max_level: dict[str, float],
                 max_load_s: float, clock: Callable[[], float] = time.time) -> None:
        self._factories = strategies
        self._made: dict[str, LoadStrategy] = {}
        self.max_level = max_level
        self.max_load_s = max_load_s
        self.clock = clock
        self.mode = next(iter(strategies))
        self.started_at: float | None = None
        self.events: list[LoadEvent] = []

    def _strategy(self, mode: str) -> LoadStrategy:
        if mode not in self._factories:
            raise LoadError(f"unknown load mode {mode!r}; known: {', '.join(self._factories)}")
        if mode not in self._made:
            self._made[mode] = self._factories[mode]()
        return self._made[mode]

    @property
    def level(self) -> float:
        s = self._made.get(self.mode)
        return s.level if s is not None else 0.0

    @property
    def running(self) -> bool:
        return self.level > 0

    def set(self, level: float, mode: str | None = None) -> None:
        mode = mode or self.mode
        if mode not in self._factories:
            raise LoadError(f"unknown load mode {mode!r}; known: {', '.join(self._factories)}")
        limit = self.max_level[mode]
        if not 0 < level <= limit:
            raise LoadError(f"{mode}: {level:g} is out of range (0 < level <= {limit:g})")
        if mode != self.mode:
            self.stop()  # one model at a time: the charts compare like with like
            self.mode = mode
        strategy = self._strategy(mode)
        was = strategy.level
        strategy.set(level)
        if not was:
            self.started_at = self.clock()
        self._event(f"load {level:g} {strategy.unit}")

    def spike(self) -> float:
        """Double the level (start at the mode's first level when stopped); returns the new one."""
        level = min(max(self.level, 1.0) * 2, self.max_level[self.mode])
        self.set(level)
        return level

    def stop(self) -> None:
        s = self._made.get(self.mode)
        if s is not None and s.level:
            s.stop()
            self._event("load stopped")
        self.started_at = None

    def expire(self) -> bool:
        """Stop a load that has run for ``max_load_s``; True if it did."""
        if self.started_at is not None and self.clock() - self.started_at >= self.max_load_s:
            self.stop()
            self._event(f"load stopped after {self.max_load_s:g}s (the limit)")
            return True
        return False

    def close(self) -> None:
        for s in self._made.values():
            s.close()
        self._made.clear()

    def _event(self, text: str) -> None:
        self.events.append(LoadEvent(self.clock(), text))
        del self.events[:-200]

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "level": self.level, "running": self.running,
                "modes": {m: {"max": self.max_level[m]} for m in self._factories}}
