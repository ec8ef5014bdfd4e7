"""``run --ablate cache,batching,...``: the reference app once per mechanism switched off.

Each ablated mechanism becomes one more app of the run: a target ``reference_no_<mechanism>``
that is our reference app started with ``RAGCHAOS_DISABLE=<mechanism>`` (its switches,
``ragchaos/reference_app/switches.py``) and the reference app's own ``app_env``. Every app gets
its own provider key with the scenario's budget, its own proxies, and every ``app: both`` fault,
so each copy answers the same schedule under the same faults as the full reference app beside it
(in one leg by default; with ``--sequential``, one after the other with the same seed). The
naive app is left out (the question is what each mechanism buys the reference app), and so
are the scenario's checks of other apps. The report compares each copy with the full app
(``ragchaos/reports/ablation.py``).
"""

from __future__ import annotations

import difflib

from ragchaos.reports.checks.grammar import CheckError, parse_check
from ragchaos.scenarios.loader import ScenarioError
from ragchaos.scenarios.schema import Scenario
from ragchaos.stack.targets import Target

__all__ = ["ABLATABLE", "ABLATE_ALL", "FULL_APP", "ablated_app", "ablated_scenario", "parse_ablate"]

FULL_APP = "reference"
# the reference app's switch names a run may ablate (a test keeps them within its switches);
# the single cache layers and cache_revalidation stay behind ``cache``, which switches them all
ABLATABLE = ("cache", "batching", "retries", "breaker", "pacing", "bulkhead", "deadline", "finish_late",
             "pooling", "bulk_upsert", "queue", "quotas", "admission", "semantic_cache", "embedding_cache",
             "response_cache", "retrieval_cache", "cache_revalidation", "gc_freeze")
# ``--ablate all``: the mechanisms the workshop's premise names, and the two that shed load
# under a spike; 7 copies beside the full app keep the run at 8 apps, what a 2-core machine holds
ABLATE_ALL = ("cache", "batching", "retries", "breaker", "pacing", "bulkhead", "deadline")
_PREFIX = f"{FULL_APP}_no_"


def ablated_app(mechanism: str) -> str:
    """The app name of the reference app without ``mechanism``."""
    return f"{_PREFIX}{mechanism}"


def parse_ablate(text: str) -> list[str]:
    """``"cache, retries"`` -> ["cache", "retries"]; ``"all"`` -> ``ABLATE_ALL``. An unknown
    name is refused with the closest valid one."""
    names: list[str] = []
    problems: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "all":
            names += [m for m in ABLATE_ALL if m not in names]
            continue
        if name not in ABLATABLE:
            near = difflib.get_close_matches(name, [*ABLATABLE, "all"], n=1, cutoff=0.5)
            problems.append(f"--ablate: unknown mechanism {name!r}"
                            + (f"; did you mean {near[0]}?" if near else "")
                            + f" (valid: all, {', '.join(ABLATABLE)})")
        elif name not in names:
            names.append(name)
    if problems:
        raise ScenarioError(problems)
    if not names:
        raise ScenarioError([f"--ablate: name at least one mechanism, or all ({', '.join(ABLATE_ALL)})"])
    return names


def ablated_scenario(scenario: Scenario, mechanisms: list[str]) -> Scenario:
    """The scenario with the full reference app and one copy per mechanism switched off."""
    if FULL_APP not in scenario.known_apps:
        raise ScenarioError([f"--ablate: {scenario.name} has no {FULL_APP} app to ablate"])
    base_env = dict(scenario.app_env.get(FULL_APP, {}))
    already = [m.strip() for m in base_env.pop("RAGCHAOS_DISABLE", "").split(",") if m.strip()]
    targets = dict(scenario.targets)
    app_env = {FULL_APP: scenario.app_env.get(FULL_APP, {})} if FULL_APP in scenario.app_env else {}
    for mechanism in mechanisms:
        name = ablated_app(mechanism)
        targets[name] = Target(builtin="reference")
        app_env[name] = {**base_env, "RAGCHAOS_DISABLE": ",".join([*already, mechanism])}
    keep = []
    for spec in scenario.checks:  # the reference app's own checks, on the full app only
        try:
            check = parse_check(spec.check)
        except CheckError:
            keep.append(spec)  # validation names it
            continue
        others = set(scenario.known_apps) - {FULL_APP}
        if check.app == FULL_APP and check.other_app not in others:
            keep.append(spec)
    return scenario.model_copy(update={
        "apps": [FULL_APP, *(ablated_app(m) for m in mechanisms)],
        "targets": targets,
        "app_env": app_env,
        "checks": keep,
    })
