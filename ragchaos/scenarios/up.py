"""``ragchaos up``: the stack, seeded, kept running with the Locust web UI until Ctrl-C.

For exploring by hand: start and stop load from the web UI (closed model, the scenario's
workload mix against every app), apply faults through the Toxiproxy API or the provider's
``/_control/faults``, watch ``/metrics``. Everything started is stopped on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import gevent
import yaml
from locust import User
from locust.env import Environment

from ragchaos.core.procs import ProcessGroup
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.requests import Workbench
from ragchaos.scenarios.runner import _seed, run_dir_for
from ragchaos.scenarios.schema import Scenario
from ragchaos.scenarios.users import closed_user_class
from ragchaos.stack.local import Stack, StackConfig

__all__ = ["run_up"]


def run_up(scenario: Scenario, *, apps: list[str] | None, out: Path, web_port: int,
           print_fn: Callable[[str], None] = print) -> int:
    if apps:
        scenario = scenario.model_copy(update={"apps": apps})
    run_dir = run_dir_for(scenario.model_copy(update={"name": f"up-{scenario.name}"}), out)
    provider_config = None
    if scenario.provider:
        provider_config = run_dir / "provider.yaml"
        provider_config.write_text(yaml.safe_dump(scenario.provider, sort_keys=False))
    stack = Stack(StackConfig(run_dir=run_dir, apps=scenario.apps, provider_config=provider_config,
                              app_env=scenario.app_env, targets=scenario.targets))
    web = None
    env = None
    with ProcessGroup().signals_stop():
        try:
            stack.start()
            bench = Workbench(scenario)
            _seed(stack, bench, scenario, print_fn)
            ctx = RunContext(bench, {a: stack.apps[a].url for a in scenario.apps})
            classes: list[type[User]] = [closed_user_class(a, u, ctx, 0.5) for a, u in ctx.apps.items()]
            env = Environment(user_classes=classes)
            env.create_local_runner()
            # Locust's web UI parses sys.argv with its own parser; ours are not its options
            sys.argv = sys.argv[:1]
            web = env.create_web_ui("127.0.0.1", web_port)
            d = stack.describe()
            print_fn(f"ragchaos up: Locust web UI  http://127.0.0.1:{web_port}")
            for app, url in d["apps"].items():
                print_fn(f"ragchaos up: {app:<10} {url}   (/metrics, /_stats/hdr)")
            print_fn(f"ragchaos up: provider   {d['provider']}   (/_control/faults, /_stats)")
            print_fn(f"ragchaos up: toxiproxy  {d['toxiproxy']['url']}   (proxies: {', '.join(d['proxies'])})")
            print_fn(f"ragchaos up: logs in {run_dir / 'logs'}; Ctrl-C stops everything")
            while True:
                gevent.sleep(1.0)
        except KeyboardInterrupt:
            print_fn("ragchaos up: stopping")
        finally:
            if env is not None and env.runner is not None:
                env.runner.quit()
            if web is not None:
                web.stop()
            stack.stop()
            time.sleep(0)  # let the hub run the stops' callbacks
    return 0
