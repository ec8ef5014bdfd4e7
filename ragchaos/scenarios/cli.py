"""``ragchaos run | demo | list | validate``: the scenario commands (``up`` and ``run --live``: ragchaos.live.cli).

Locust (and so gevent) is imported only by the commands that generate load, and gevent's
monkey patching is done as early as possible for them: ``register`` runs before the other
parts' CLI modules are imported (``ragchaos.cli.PART_CLIS`` lists this part first), so
sockets, ssl and threads are patched before anything else has imported them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragchaos.core.errors import CliError

__all__ = ["register"]

_LOAD_COMMANDS = ("run", "demo", "up", "gate")
EXIT_HARNESS = 3  # the run could not be carried out (a process did not start, seeding failed)
DEMO_SCENARIO = "monday-morning"


def _patch_early() -> None:
    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in _LOAD_COMMANDS and Path(sys.argv[0]).name in ("ragchaos", "__main__.py"):
        from gevent import monkey

        monkey.patch_all()


def _load(name: str) -> Any:
    from ragchaos.scenarios.loader import ScenarioError, load_scenario

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise CliError("\n".join(exc.problems)) from None


def _apps(value: str | None) -> list[str] | None:
    if not value:
        return None
    # checked against the scenario's targets (ours and --target/--targets) by prepare_scenario
    return [a.strip() for a in value.split(",") if a.strip()]


def _options(args: argparse.Namespace, file: str) -> Any:
    from ragchaos.scenarios.options import RunOptions

    if args.workers < 0:
        raise CliError("--workers must be 0 or more")
    targets_file = getattr(args, "targets", None)
    ablate: list[str] = []
    if getattr(args, "ablate", None):
        from ragchaos.scenarios.ablation import parse_ablate
        from ragchaos.scenarios.loader import ScenarioError

        try:
            ablate = parse_ablate(args.ablate)
        except ScenarioError as exc:
            raise CliError("\n".join(exc.problems)) from None
        if getattr(args, "apps", None):
            raise CliError("--ablate chooses the apps itself (the reference app and one copy per mechanism); "
                           "leave out --apps")
    return RunOptions(ablate=ablate, apps=_apps(getattr(args, "apps", None)), quick=args.quick, seed=args.seed, out=Path(args.out),
                      workers=args.workers, sequential=args.sequential, file=file,
                      targets=list(getattr(args, "target", None) or []),
                      targets_file=Path(targets_file) if targets_file else None,
                      gate=list(getattr(args, "gate", None) or []), gate_as=getattr(args, "gate_as", "reference"),
                      allow_remote=getattr(args, "allow_remote", False), backend=getattr(args, "backend", "local"))


def _run(args: argparse.Namespace, name: str, customize: Callable[[Any], None] | None = None) -> int:
    """Run scenario ``name``; ``customize`` may change the run's options first (run --live)."""
    from ragchaos.scenarios.loader import ScenarioError, find_scenario

    scenario = _load(name)
    for note in scenario.deprecations:
        print(f"ragchaos: {name}: deprecated: {note}", file=sys.stderr)
    try:
        file = str(find_scenario(name))
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    opts = _options(args, file)
    if customize is not None:
        customize(opts)
    from ragchaos.scenarios.options import prepare_scenario

    try:
        scenario = prepare_scenario(scenario, opts)
    except ScenarioError as exc:
        raise CliError("\n".join(exc.problems)) from None
    if getattr(args, "dry_run", False):
        print(scenario.describe())
        print("plan:")
        for step in scenario.plan():
            print("  " + step.line())
        return 0
    from ragchaos.core.procs import ProcessStartError
    from ragchaos.scenarios.runner import RunFailed, run_scenario
    from ragchaos.scenarios.seed import SeedError
    from ragchaos.stack.docker_backend import DockerUnavailable

    try:
        run_dir = run_scenario(scenario, opts)
    except (ProcessStartError, SeedError, RunFailed, DockerUnavailable) as exc:
        # the harness could not run the scenario: not a usage error (2), not a failed check (1)
        print(f"ragchaos: error: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    report = run_dir / "report.html"
    print(f"ragchaos: run folder {run_dir}")
    print(f"ragchaos: report {report if report.exists() else run_dir / 'results.json'}")
    return _gate_status(run_dir)


def _gate_status(run_dir: Path) -> int:
    """Exit 1 when a check of the run failed (reports decided), else 0."""
    try:
        from ragchaos.reports.results import load_results

        result = load_results(run_dir)
    except Exception:
        return 0
    if result.run.interrupted:
        print("ragchaos: interrupted; the measured part is reported above", file=sys.stderr)
        return 130  # as for any interrupted command (128 + SIGINT)
    if result.gate is not None and not result.gate.passed:
        print("ragchaos: gate FAILED", file=sys.stderr)
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, args.scenario)


def cmd_demo(args: argparse.Namespace) -> int:
    args.apps, args.sequential, args.dry_run = None, False, False
    _run(args, DEMO_SCENARIO)
    return 0  # the demo shows the failure; a failed gate is its point, not an error


def cmd_list(args: argparse.Namespace) -> int:
    from ragchaos.scenarios.loader import BUILTIN_DIR, ScenarioError, builtin_names, load_scenario

    rows = []
    for name in builtin_names():
        try:
            s = load_scenario(BUILTIN_DIR / f"{name}.yaml")
            text = " ".join(s.description.split())
            first = text.split(". ")[0].rstrip(".") + "." if text else ""
            rows.append((name, f"{s.total_s:.0f}s", s.load_model, first))
        except ScenarioError as exc:
            rows.append((name, "?", "?", f"INVALID: {exc.problems[0]}"))
    width = max(len(r[0]) for r in rows) if rows else 10
    for name, dur, model, desc in rows:
        print(f"{name:<{width}}  {dur:>5}  {model:<6}  {desc}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ragchaos.scenarios.loader import ScenarioError, load_scenario

    failed = 0
    for name in args.files:
        try:
            s = load_scenario(name)
        except ScenarioError as exc:
            failed += 1
            for line in exc.problems:
                print(line, file=sys.stderr)
            continue
        print(f"{name}: ok ({s.describe().splitlines()[0]})")
        for note in s.deprecations:
            print(f"{name}: deprecated: {note}", file=sys.stderr)
    return 2 if failed else 0


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="every time in the scenario scaled down (quick_scale)")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.add_argument("--out", default="runs", help="where run folders go (default: runs/)")
    p.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: in this process)")
    p.add_argument("--backend", choices=("local", "docker"), default="local",
                   help="where Toxiproxy, Chroma and Redis run: local processes (default) or Docker "
                        "containers (ragchaos.stack.docker_backend.BACKENDS; docs/scale-out.md)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow addresses off loopback (TOXIPROXY_URL, target urls, app_env hosts)")


def register(subparsers: Any) -> None:
    _patch_early()
    p = subparsers.add_parser("run", help="run a scenario (a built-in name or a YAML file)")
    p.add_argument("scenario", help="built-in name (see `ragchaos list`) or path to a YAML file")
    p.add_argument("--apps", default=None, help="comma list of apps, e.g. naive,reference")
    p.add_argument("--sequential", action="store_true", help="one app after the other instead of side by side")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument("--ablate", metavar="MECHANISMS", default=None,
                   help="run the reference app once per mechanism switched off, beside the full app, and "
                        "report what each buys: a comma list (cache,batching,retries,breaker,pacing,...) or all")
    p.add_argument("--target", action="append", metavar="NAME=CMD|URL",
                   help='your service: a command with {port} ragchaos starts, or a loopback URL '
                        '(e.g. mine="uvicorn myrag:app --port {port}"); repeatable; docs/your-service.md')
    p.add_argument("--targets", metavar="FILE", help="a YAML file with a targets: block (templates, spans, ...)")
    p.add_argument("--gate", action="append", metavar="EXPR", help="an extra gate line, e.g. 'mine.error_rate < 5%%'")
    p.add_argument("--gate-as", default="reference", metavar="APP",
                   help="a run of only your targets holds them to this app's checks and gate lines "
                        "(default: reference; none: drop them)")
    _add_run_flags(p)
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("demo", help=f"the {DEMO_SCENARIO} scenario, naive vs reference, then the report")
    _add_run_flags(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("list", help="the built-in scenarios")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("validate", help="check scenario files; every mistake with its line")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="scenario files or built-in names; every problem is printed with file:line")
    p.set_defaults(func=cmd_validate)

