"""How a run is asked for (``RunOptions``) and the scenario it then runs (``prepare_scenario``).

Kept apart from the runner so that ``--dry-run`` and the tests never import Locust (whose
import monkey-patches the process with gevent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ragchaos.scenarios.loader import ScenarioError
from ragchaos.scenarios.safety import remote_addresses
from ragchaos.scenarios.schema import Scenario

__all__ = ["RunObserver", "RunOptions", "prepare_scenario"]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass
class RunOptions:
    apps: list[str] | None = None
    quick: bool = False
    seed: int | None = None
    out: Path = Path("runs")
    workers: int = 0
    sequential: bool = False
    live_every_s: float = 5.0
    render: bool = True
    print: Callable[[str], None] = field(default=_print)
    file: str | None = None
    # services we did not write (scenarios.targetfile): --target NAME=CMD|URL, --targets FILE
    targets: list[str] = field(default_factory=list)
    targets_file: Path | None = None
    gate: list[str] = field(default_factory=list)
    gate_as: str | None = "reference"  # whose checks and gate lines a run of only their targets keeps
    allow_remote: bool = False  # --allow-remote: addresses off loopback may be reached (ragchaos/scenarios/safety.py)
    backend: str = "local"  # --backend: where Toxiproxy, Chroma and Redis run (ragchaos.stack.docker_backend)
    # --ablate: mechanisms of the reference app, each switched off in a copy beside the full app
    # (ragchaos.scenarios.ablation); empty: a plain run
    ablate: list[str] = field(default_factory=list)
    # told as the run goes (run --live: ragchaos.live.runlive); None in a plain run
    observer: RunObserver | None = None


class RunObserver(Protocol):
    """Watches a run from outside the runner: the live view. Called in the runner's process."""

    def leg_started(self, ctx: Any, stack: Any) -> None:
        """The load starts now (``ctx.t0``): the run context and the stack it runs against."""

    def fault_event(self, name: str, event: str, t_epoch: float) -> None:
        """A fault step (``step@app``) was ``applied`` or ``reverted`` at ``t_epoch``."""

    def run_finished(self, run_dir: Path) -> None:
        """The run folder is complete (results.json, and the report when it rendered)."""


def prepare_scenario(scenario: Scenario, opts: RunOptions) -> Scenario:
    """Apply --target(s), --apps, --seed and --quick, and validate the result again."""
    from ragchaos.scenarios.targetfile import apply_targets, narrow_to_apps

    scenario, apps = apply_targets(scenario, file=opts.targets_file, args=opts.targets, gate=opts.gate,
                                   apps=opts.apps)
    if opts.gate_as not in (None, "none") and opts.gate_as not in scenario.known_apps:
        import difflib

        known = [*scenario.known_apps, "none"]
        near = difflib.get_close_matches(str(opts.gate_as), known, n=1)
        raise ScenarioError([f"--gate-as {opts.gate_as}: unknown app"
                             + (f" (did you mean {near[0]}?)" if near else "")
                             + f"; known: {', '.join(known)}. Its checks are the bar your targets are held to; "
                             "none drops them"])
    if apps:
        unknown = [a for a in apps if a not in scenario.known_apps]
        if unknown:
            raise ScenarioError([f"--apps: unknown app {', '.join(map(repr, unknown))}; known: "
                                 f"{', '.join(scenario.known_apps)} (describe yours with --target or --targets)"])
        scenario = narrow_to_apps(scenario.model_copy(update={"apps": list(apps)}),
                                  None if opts.gate_as in (None, "none") else opts.gate_as)
    if opts.ablate:
        from ragchaos.scenarios.ablation import ablated_scenario

        scenario = ablated_scenario(scenario, opts.ablate)
    if opts.seed is not None:
        scenario = scenario.with_seed(opts.seed)
    if opts.quick:
        scenario = scenario.scaled(scenario.quick_scale)
    problems = scenario.validate()
    if problems:
        raise ScenarioError([f"{opts.file or scenario.name}: {p}" for p in problems])
    remote = remote_addresses(scenario, os.environ)
    if remote and not opts.allow_remote:
        raise ScenarioError([f"{opts.file or scenario.name}: {r} is not a loopback address; pass --allow-remote "
                             "to reach it" for r in remote])
    for r in remote:
        opts.print(f"ragchaos: --allow-remote: this run reaches {r}")
    return scenario
