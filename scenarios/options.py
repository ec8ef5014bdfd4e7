"""How a run is asked for (``RunOptions``) and the scenario it then runs (``prepare_scenario``).

Kept apart from the runner so that ``--dry-run`` and the tests never import Locust (whose
import monkey-patches the process with gevent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scenarios.loader import ScenarioError
from scenarios.schema import Scenario

__all__ = ["RunOptions", "prepare_scenario"]


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


def prepare_scenario(scenario: Scenario, opts: RunOptions) -> Scenario:
    """Apply --apps, --seed and --quick, and validate the result again."""
    if opts.apps:
        scenario = scenario.model_copy(update={"apps": list(opts.apps)})
    if opts.seed is not None:
        scenario = scenario.with_seed(opts.seed)
    if opts.quick:
        scenario = scenario.scaled(scenario.quick_scale)
    problems = scenario.validate()
    if problems:
        raise ScenarioError([f"{opts.file or scenario.name}: {p}" for p in problems])
    return scenario
