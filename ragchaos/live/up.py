"""``ragchaos up``: the stack, seeded and kept running, driven from the live page until Ctrl-C.

The page (``http://127.0.0.1:PORT/``) starts, stops and sets the load and presses the faults;
everything the page starts (load users, faults) and everything ``up`` started (the stack, the
page's server) stops on Ctrl-C or SIGTERM: faults are cleared first, then the load, then the
server, then the stack.

Defaults that let the reference app show what it does: the client waits ``timeout_s`` (15 s by
default) for an answer, longer than the reference app's own 10 s request deadline, so its
deadline (and the degraded answer or fast 503 it gives when one runs out) is what the room
sees, not a client timeout; the scenario's SLO is drawn on the latency chart.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import yaml
from gevent.event import Event

from ragchaos.core.procs import ProcessGroup
from ragchaos.live.board import FaultBoard
from ragchaos.live.load import ArrivalRateLoad, ClosedUsersLoad, LoadControl
from ragchaos.live.notes import CheckNotes, MechanismNotes, ObservationNotes
from ragchaos.live.server import LiveServer
from ragchaos.live.session import Attachment, LiveSession
from ragchaos.live.settings import LiveSettings
from ragchaos.live.wiring import appliers_for, feeds_for
from ragchaos.reports.recorder import Recorder
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.phases import PhaseClock
from ragchaos.scenarios.requests import Workbench
from ragchaos.scenarios.runner import _seed, run_dir_for
from ragchaos.scenarios.schema import Scenario
from ragchaos.stack.local import Stack, StackConfig

__all__ = ["REFERENCE_DEADLINE_S", "client_timeout", "run_up"]

# the reference app's request deadline (ragchaos/reference_app/deadline.py, RAGCHAOS_DEADLINE__REQUEST_S);
# the harness does not import the app, so the default is written here and read from app_env when set
REFERENCE_DEADLINE_S = 10.0
_DEADLINE_ENV = "RAGCHAOS_DEADLINE__REQUEST_S"


def client_timeout(scenario: Scenario, asked: float | None) -> float:
    """What the load's clients wait: as asked, else 5 s longer than the reference's deadline."""
    if asked is not None:
        return asked
    deadline = float(scenario.app_env.get("reference", {}).get(_DEADLINE_ENV, REFERENCE_DEADLINE_S))
    return max(scenario.request_timeout, deadline + 5.0)


def _wait_for_a_stop_signal() -> None:
    """Until SIGINT or SIGTERM. gevent runs the handlers in a greenlet of their own: a signal
    raised as KeyboardInterrupt while the hub runs would be printed as a traceback first."""
    stopping = Event()
    handlers = [gevent.signal_handler(sig, stopping.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        stopping.wait()
    finally:
        for handler in handlers:
            handler.cancel()


def run_up(scenario: Scenario, *, out: Path, settings: LiveSettings, level: float = 0.0, mode: str = "rate",
           timeout_s: float | None = None, max_in_flight: int = 64,
           print_fn: Callable[[str], Any] = print) -> int:
    run_dir = run_dir_for(scenario.model_copy(update={"name": f"up-{scenario.name}"}), out)
    provider_config = None
    if scenario.provider:
        provider_config = run_dir / "provider.yaml"
        provider_config.write_text(yaml.safe_dump(scenario.provider, sort_keys=False))
    stack = Stack(StackConfig(run_dir=run_dir, apps=scenario.apps, provider_config=provider_config,
                              app_env=scenario.app_env, targets=scenario.targets))
    session = LiveSession(settings, sources=[MechanismNotes(settings.min_requests), CheckNotes(scenario.checks),
                                                  ObservationNotes()])
    server = LiveServer(settings, session)
    board: FaultBoard | None = None
    load: LoadControl | None = None
    with ProcessGroup().signals_stop():
        try:
            server.start()
            print_fn(f"ragchaos up: live view  {server.url}   (starting the stack...)")
            session.say("starting the stack")
            stack.start()
            session.say("loading the corpus")
            bench = Workbench(scenario)
            _seed(stack, bench, scenario, print_fn)
            # phases as a scenario run has them (steady, fault, recovery), from the buttons' faults
            phases = PhaseClock([], 0.0)
            ctx = RunContext(bench, {a: stack.apps[a].url for a in scenario.apps}, recorder=Recorder(), phases=phases)
            ctx.timeout_s = client_timeout(scenario, timeout_s)
            board = FaultBoard(appliers_for(stack), scenario.apps, max_fault_s=settings.max_fault_s)
            board.listeners.append(lambda name, event, t: (phases.applied if event == "applied" else phases.reverted)(
                name, t - ctx.t0))
            load = LoadControl(
                {"rate": lambda: ArrivalRateLoad(ctx, max_in_flight=max_in_flight),
                 "users": lambda: ClosedUsersLoad(ctx)},
                max_level={"rate": settings.max_rate, "users": float(settings.max_users)},
                max_load_s=settings.max_load_s)
            session.attach(Attachment(ctx, feeds_for(stack, scenario.apps), board=board, load=load,
                                      phase_of=lambda t: phases.at(max(0.0, t - ctx.t0))))
            session.start()
            if level > 0:
                load.set(level, mode)
            d = stack.describe()
            print_fn(f"ragchaos up: live view  {server.url}   (load, faults, notes; client timeout "
                     f"{ctx.timeout_s:g}s)")
            for app, url in d["apps"].items():
                # the naive app measures nothing itself: its calls are timed at the fault proxy
                serves = "(/metrics, /_stats/hdr)" if stack.target(app).metrics else "(calls timed at the proxy)"
                print_fn(f"ragchaos up: {app:<10} {url}   {serves}")
            print_fn(f"ragchaos up: provider   {d['provider']}   (/_control/faults, /_stats)")
            if d["toxiproxy"]:
                print_fn(f"ragchaos up: toxiproxy  {d['toxiproxy']['url']}   (proxies: {', '.join(d['proxies'])})")
            print_fn(f"ragchaos up: logs in {run_dir / 'logs'}; Ctrl-C stops everything")
            _wait_for_a_stop_signal()
            print_fn("ragchaos up: stopping")
        except KeyboardInterrupt:
            print_fn("ragchaos up: stopping")
        finally:
            # what the page started first (faults off the proxies and the provider, the load),
            # then the page, then the processes
            if board is not None:
                try:
                    board.close()
                except Exception as exc:  # the stack stops next whatever happened here
                    print_fn(f"ragchaos up: clearing faults: {exc}")
            if load is not None:
                load.close()
            session.stop()
            server.stop()
            stack.stop()
            time.sleep(0)  # let the hub run the stops' callbacks
    return 0
