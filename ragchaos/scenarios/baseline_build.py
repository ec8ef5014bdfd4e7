"""The baseline build of a same-run A/B gate: where it comes from, as a target beside the candidate.

- ``ref:REF`` (``--baseline-ref``): the git ref exported (``git archive``) into its own folder,
  ``<out>/baseline-<commit>/``, and our reference app started from there (``PYTHONPATH``), with
  this environment's dependencies;
- ``command:CMD`` (``--baseline-command``): a service ragchaos starts on ``{port}``, speaking our
  apps' API (the candidate's templates);
- ``url:URL`` (``--baseline-url``): a service already running on loopback.

``ab_scenario`` adds it to a scenario as the app ``baseline``: the same schedule, the same faults
(``app: both`` reaches every app), the same app settings, a provider key (and budget) of its own.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ragchaos.reports.checks.grammar import BASELINE
from ragchaos.scenarios.schema import Scenario
from ragchaos.stack.targets import BUILTIN_TARGETS, Target

__all__ = ["BaselineError", "BaselineSource", "ab_scenario", "export_ref"]


class BaselineError(RuntimeError):
    """The baseline build could not be made; the message says why."""


@dataclass(frozen=True)
class BaselineSource:
    kind: str  # ref | command | url
    value: str

    def describe(self) -> str:
        return f"{self.kind} {self.value}"


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BaselineError(f"git {' '.join(args)}: {exc}") from None
    if proc.returncode != 0:
        raise BaselineError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def export_ref(ref: str, out: Path, repo: Path | None = None) -> tuple[Path, str]:
    """``git archive`` of ``ref`` into ``out/baseline-<commit>/`` (reused when already there);
    returns the folder and the full commit."""
    repo = Path(_git(repo or Path.cwd(), "rev-parse", "--show-toplevel"))
    commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    folder = out / f"baseline-{commit[:12]}"
    if (folder / "ragchaos" / "__init__.py").is_file():
        return folder, commit
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as tmp:
        proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit, "ragchaos"],
                              stdout=tmp, stderr=subprocess.PIPE, timeout=300)
        if proc.returncode != 0:
            raise BaselineError(f"git archive {ref}: {proc.stderr.decode(errors='replace').strip()}")
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(folder, filter="data")
    if not (folder / "ragchaos" / "__init__.py").is_file():
        raise BaselineError(f"{ref} ({commit[:12]}) has no ragchaos package to run")
    return folder, commit


def baseline_target(source: BaselineSource, candidate: str, out: Path) -> tuple[Target, str]:
    """The baseline as a target, and a line saying what it is."""
    ours = BUILTIN_TARGETS.get(candidate)
    if source.kind == "ref":
        if ours is None or ours.builtin is None:
            raise BaselineError(f"--baseline-ref builds our apps; {candidate!r} is not one (use --baseline-command)")
        folder, commit = export_ref(source.value, out)
        target = Target(builtin=ours.builtin, env={"PYTHONPATH": str(folder.resolve())})
        return target, f"git {source.value} ({commit[:12]}) in {folder}"
    template = (ours or BUILTIN_TARGETS["reference"]).model_dump(exclude={"builtin"}, exclude_none=True)
    if source.kind == "command":
        return Target.model_validate({**template, "command": source.value}), f"command {source.value!r}"
    if source.kind == "url":
        return Target.model_validate({**template, "url": source.value}), f"url {source.value}"
    raise BaselineError(f"unknown baseline kind {source.kind!r}")


def ab_scenario(scenario: Scenario, candidate: str, target: Target) -> Scenario:
    """The scenario with the baseline beside ``candidate``: same settings, its own key."""
    if candidate not in scenario.apps:
        raise BaselineError(f"the candidate {candidate!r} is not in scenario {scenario.name}'s apps "
                            f"({', '.join(scenario.apps)})")
    app_env = dict(scenario.app_env)
    if candidate in app_env:
        app_env[BASELINE] = dict(app_env[candidate])
    return scenario.model_copy(update={
        "apps": [candidate, BASELINE],
        "targets": {**scenario.targets, BASELINE: target},
        "app_env": app_env,
    })
