"""Targets from the command line: ``--targets FILE`` (a ``targets:`` block) and ``--target NAME=...``.

``apply_targets`` merges them into a scenario before it is validated, so a built-in scenario
runs against a service we did not write with the same load, faults and measurements. When the
run names only such targets, the scenario's checks and gate lines about our ``reference`` app
are aimed at each of them instead (``--gate-as`` chooses another app, ``--gate-as none`` drops
them); the lines about apps not in the run are dropped, as ``--apps`` always did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from ragchaos.reports.checks.spec import CheckSpec
from ragchaos.scenarios.loader import ScenarioError, _dotted, _line, _message
from ragchaos.scenarios.schema import KNOWN_APPS, Scenario
from ragchaos.stack.targets import Target, TargetError, parse_target_arg

__all__ = ["apply_targets", "load_targets", "narrow_to_apps"]


def load_targets(path: Path) -> tuple[dict[str, Target], list[str]]:
    """(targets, extra gate lines) from a YAML file with ``targets:`` and optionally ``gate:``."""
    try:
        text = path.read_text()
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ScenarioError([f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML: {exc.problem}"]) from None
    if root is None or not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise ScenarioError([f"{path}: a targets file is a mapping with a targets: block"])
    unknown = set(data) - {"targets", "gate"}
    if unknown:
        raise ScenarioError([f"{path}:{_line(root, (k,))}: unknown field {k!r} (targets, gate)" for k in sorted(unknown)])
    out: dict[str, Target] = {}
    problems: list[str] = []
    for name, raw in data["targets"].items():
        try:
            target = Target.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("targets", name, *err["loc"])
                problems.append(f"{path}:{_line(root, loc)}: {_dotted(loc)}: {_message(err)}")
            continue
        problems += [f"{path}:{_line(root, ('targets', name, *p))}: {_dotted(('targets', name, *p))}: {m}"
                     for p, m in target.problems()]
        if target.cwd is not None and not Path(target.cwd).is_absolute():  # relative to the file
            target = target.model_copy(update={"cwd": str((path.parent / target.cwd).resolve())})
        out[str(name)] = target
    gate = data.get("gate") or []
    if not isinstance(gate, list) or not all(isinstance(g, str) for g in gate):
        problems.append(f"{path}:{_line(root, ('gate',))}: gate: a list of expressions")
    if problems:
        raise ScenarioError(problems)
    return out, list(gate)


def apply_targets(scenario: Scenario, *, file: Path | None, args: Sequence[str], gate: Sequence[str] = (),
                  apps: Sequence[str] | None = None) -> tuple[Scenario, list[str] | None]:
    """The scenario with the extra targets (and gate lines); the apps to run when they were
    not given: the targets named on the command line."""
    targets = dict(scenario.targets)
    extra_gate = list(gate)
    named: list[str] = []
    if file is not None:
        loaded, file_gate = load_targets(file)
        targets.update(loaded)
        extra_gate += file_gate
        named += list(loaded)
    for value in args:
        try:
            name, fields = parse_target_arg(value, targets)
            targets[name] = Target.model_validate(fields)
        except (TargetError, ValidationError) as exc:
            raise ScenarioError([f"--target {value!r}: {exc}"]) from None
        if name not in named:
            named.append(name)
    if not targets and not extra_gate:
        return scenario, list(apps) if apps else None
    extra_checks = [CheckSpec(check=g) for g in extra_gate]
    updated = scenario.model_copy(update={"targets": targets, "checks": list(scenario.checks) + extra_checks})
    chosen = list(apps) if apps else (named or None)
    return updated, chosen


def narrow_to_apps(scenario: Scenario, gate_as: str | None) -> Scenario:
    """The checks of the run's apps only; ``gate_as``'s are re-aimed at each of the run's own
    targets (the bar our app is held to, held to theirs)."""
    from ragchaos.reports.checks.grammar import BASELINE, CheckError, parse_check

    apps = set(scenario.apps)
    theirs = [a for a in scenario.apps if a not in KNOWN_APPS]
    others = set(scenario.known_apps) - apps
    checks: list[CheckSpec] = []
    for spec in scenario.checks:
        try:
            check = parse_check(spec.check)
        except CheckError:
            checks.append(spec)  # validation names it
            continue
        if gate_as and check.app == gate_as and gate_as not in apps:
            if check.metric[0] == "mechanism":
                continue  # read from our apps' /metrics: not carried over to a target
            head = re.compile(rf"^\s*{re.escape(gate_as)}\.")
            checks += [spec.model_copy(update={"check": head.sub(f"{t}.", spec.check)}) for t in theirs]
        elif (check.app == "*" or check.app in apps) and check.other_app not in others - {BASELINE}:
            checks.append(spec)
    app_env = {a: e for a, e in scenario.app_env.items() if a in apps}
    return scenario.model_copy(update={"checks": checks, "app_env": app_env})
