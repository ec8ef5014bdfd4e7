"""A Locust worker process of a distributed run (``ragchaos run ... --workers N``).

Started by the master's runner as ``python -m ragchaos.scenarios.worker``; it builds the same workbench
from the prepared scenario file, the same user classes (same names, so the master can dispatch
them) and waits for the master's messages:

- ``ragchaos_start {t0, assign}``: the run starts at ``t0`` (epoch s). In the open model, of the
  k workers Locust gave users of an app (``assign``), the one ranked r dispatches the arrivals
  with index % k == r of the shared seeded plan to its own pool of that app's users.
- ``ragchaos_phase {name, event, t}``: a fault was applied/reverted (for phase labels).
- ``ragchaos_stop``: stop dispatching, let what is in flight finish, then send everything
  recorded as ``ragchaos_final`` (exact: HDR histograms merge losslessly on the master).
Every few seconds it also ships what it recorded so far with Locust's own worker report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    from gevent import monkey

    monkey.patch_all()  # first: sockets and threads must be gevent's before anything imports them
    import gevent
    from gevent.queue import Queue
    from locust import User
    from locust.env import Environment

    from ragchaos.scenarios.context import RunContext
    from ragchaos.scenarios.loader import load_scenario
    from ragchaos.scenarios.loads import ArrivalLoad
    from ragchaos.scenarios.requests import Workbench, plan_arrivals
    from ragchaos.scenarios.schedule import Arrival, Dispatcher
    from ragchaos.scenarios.users import closed_user_class, open_user_class

    parser = argparse.ArgumentParser(prog="python -m ragchaos.scenarios.worker")
    parser.add_argument("--master-port", type=int, required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--apps", required=True, help='JSON: {"app": "http://127.0.0.1:PORT"}')
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    apps: dict[str, str] = json.loads(args.apps)
    ctx = RunContext(Workbench(scenario), apps)
    load = scenario.load
    is_open = isinstance(load, ArrivalLoad)
    queues: dict[str, Queue] = {app: Queue() for app in apps}
    dispatchers: dict[str, Dispatcher] = {}
    classes: list[type[User]]
    if isinstance(load, ArrivalLoad):
        classes = [open_user_class(app, url, ctx, queues[app], (lambda a=app: dispatchers[a].finished()),
                                   load.max_in_flight) for app, url in apps.items()]
    else:
        classes = [closed_user_class(app, url, ctx, load.think_time) for app, url in apps.items()]
    env = Environment(user_classes=classes)
    runner = env.create_worker_runner("127.0.0.1", args.master_port)

    def on_start(environment: Any, msg: Any, **_: Any) -> None:
        t0 = float(msg.data["t0"])
        ctx.t0 = t0
        if not is_open:
            return
        full = plan_arrivals(ctx.bench)
        for cls, app in zip(classes, apps, strict=True):
            holders = msg.data["assign"].get(cls.__name__, [])
            if runner.client_id not in holders:
                continue  # Locust gave this worker no users of this app: the others send its share
            rank, k = holders.index(runner.client_id), len(holders)
            plan = [a for a in full if a.index % k == rank]
            limit = max(1, int(runner.user_classes_count.get(cls.__name__, 0)))
            queue = queues[app]

            def send(arrival: Arrival, intended: float, now: float, q: Queue = queue) -> None:
                q.put((arrival.payload, intended))

            def on_drop(arrival: Arrival, intended: float, a: str = app) -> None:
                ctx.dropped(a, arrival.payload, intended)

            d = Dispatcher(plan, send, clock=time.time, sleep=gevent.sleep, max_in_flight=limit, on_drop=on_drop)
            dispatchers[app] = d
            gevent.spawn(d.run, t0)

    def on_phase(environment: Any, msg: Any, **_: Any) -> None:
        ev = msg.data
        (ctx.phases.applied if ev["event"] == "applied" else ctx.phases.reverted)(ev["name"], float(ev["t"]))

    def on_stop(environment: Any, msg: Any, **_: Any) -> None:
        for d in dispatchers.values():
            d.stop()
        deadline = time.monotonic() + scenario.request_timeout + 1.0
        while time.monotonic() < deadline and any(d.in_flight > 0 for d in dispatchers.values()):
            gevent.sleep(0.1)
        runner.send_message("ragchaos_final", {
            "index": args.index,
            "recorder": ctx.recorder.drain(),
            "tally": ctx.tally_delta(),
            "dispatch": {app: vars(d.stats) for app, d in dispatchers.items()},
        })

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        data["ragchaos"] = {"recorder": ctx.recorder.drain(), "tally": ctx.tally_delta()}

    runner.register_message("ragchaos_start", on_start)
    runner.register_message("ragchaos_phase", on_phase)
    runner.register_message("ragchaos_stop", on_stop, concurrent=True)
    env.events.report_to_master.add_listener(on_report)
    runner.greenlet.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
