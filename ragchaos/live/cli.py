"""``ragchaos up`` and ``ragchaos run SCENARIO --live``: the live view's commands.

``up`` is registered here; ``--live`` is added to the scenario part's ``run`` parser (that
part sits below this one and cannot know the live view), whose own ``run`` is called with the
live observer in its options. Locust (and gevent's patching) is imported only when a command
runs: the scenario part's CLI patches early for ``run`` and ``up`` alike.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from ragchaos.core.errors import CliError

__all__ = ["register"]


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from ragchaos.live.settings import LiveSettings

    port = args.web_port
    if not 0 < port < 65536:
        raise CliError(f"--web-port {port}: give a TCP port between 1 and 65535")
    return LiveSettings(port=port, **extra)


def cmd_up(args: argparse.Namespace) -> int:
    from ragchaos.scenarios.cli import _apps, _load
    from ragchaos.scenarios.loader import ScenarioError
    from ragchaos.scenarios.options import RunOptions, prepare_scenario

    # the same preparation as ``run``: --apps checked, and addresses off loopback refused
    # unless --allow-remote (the page's load floods whatever the scenario points at)
    opts = RunOptions(apps=_apps(args.apps), out=Path(args.out), file=args.scenario, allow_remote=args.allow_remote)
    try:
        scenario = prepare_scenario(_load(args.scenario), opts)
    except ScenarioError as exc:
        raise CliError("\n".join(exc.problems)) from None
    if args.rate is not None and args.users is not None:
        raise CliError("--rate and --users: give one (the page can switch later)")
    if args.timeout is not None and args.timeout <= 0:
        raise CliError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    settings = _settings(args, apps=tuple(scenario.apps),
                         slo_ms={k: v * 1000.0 for k, v in scenario.slo.items()} or {"query": 2000.0})
    mode, level = ("users", float(args.users)) if args.users is not None else ("rate", args.rate or 0.0)
    if level < 0 or level > (settings.max_users if mode == "users" else settings.max_rate):
        raise CliError(f"--{mode}: {level:g} is out of range")
    from ragchaos.core.procs import ProcessStartError
    from ragchaos.live.up import run_up
    from ragchaos.scenarios.runner import RunFailed
    from ragchaos.scenarios.seed import SeedError

    try:
        return run_up(scenario, out=Path(args.out), settings=settings, level=level, mode=mode,
                      timeout_s=args.timeout)
    except OSError as exc:
        if getattr(exc, "errno", None) == 98:  # EADDRINUSE
            raise CliError(f"--web-port {args.web_port}: the port is in use; pick another") from None
        raise
    except (ProcessStartError, SeedError, RunFailed) as exc:
        raise CliError(str(exc)) from None


def _run_live(args: argparse.Namespace, plain: Any) -> int:
    if not getattr(args, "live", False):
        return int(plain(args) or 0)
    if args.workers:
        raise CliError("--live draws what this process records: leave out --workers")
    if getattr(args, "sequential", False):
        raise CliError("--live shows the apps side by side: leave out --sequential")
    if getattr(args, "dry_run", False):
        return int(plain(args) or 0)
    from ragchaos.live.runlive import LiveRunObserver
    from ragchaos.scenarios.cli import _run

    observer = LiveRunObserver(_settings(args))

    def customize(opts: Any) -> None:
        opts.observer = observer
        opts.print = observer.print

    try:
        observer.start()
    except OSError as exc:
        raise CliError(f"--web-port {args.web_port}: cannot serve the live view: {exc.strerror or exc}") from None
    try:
        status = _run(args, args.scenario, customize)
        if args.live_keep > 0:
            import gevent

            print(f"ragchaos: the live view stays up {args.live_keep:g}s more (Ctrl-C to leave)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                gevent.sleep(args.live_keep)
        return status
    finally:
        observer.close()


def register(subparsers: Any) -> None:
    run = subparsers.choices.get("run")
    if run is not None:
        plain = run.get_default("func")
        run.add_argument("--live", action="store_true", help="watch the run in the live view (docs/live.md)")
        run.add_argument("--web-port", type=int, default=8089, help="the live view's port (with --live)")
        run.add_argument("--live-keep", type=float, default=300.0, metavar="S",
                         help="keep the live view up this long after the run (its report link); default 300")
        run.set_defaults(func=lambda args: _run_live(args, plain))

    p = subparsers.add_parser("up", help="the stack, kept running, driven from the live view (Ctrl-C stops it)")
    p.add_argument("--scenario", default="smoke", help="scenario whose corpus, workload and SLO the load uses")
    p.add_argument("--apps", default=None, help="comma list of apps to start and load, e.g. naive,reference "
                   "(default: the scenario's)")
    p.add_argument("--out", default="runs", help="where the session's run folder goes (default: runs/)")
    p.add_argument("--web-port", "--port", dest="web_port", type=int, default=8089, help="the live view's port")
    p.add_argument("--rate", type=float, default=None, help="start at once with this many requests/s per app")
    p.add_argument("--users", type=int, default=None, help="start at once with this many users per app")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a client waits for an answer (default: 5 s above the reference app's deadline)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow addresses off loopback (TOXIPROXY_URL, target urls, app_env hosts)")
    p.set_defaults(func=cmd_up)
