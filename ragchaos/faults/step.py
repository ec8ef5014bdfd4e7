"""One entry of a scenario's ``faults:`` list: when, how long, aimed at what, and which fault.

```yaml
- name: provider-rpm-storm      # optional; default derived
  at: 30s                       # offset from the run start
  duration: 20s                 # optional: omitted = until the end of the run
  app: both                     # naive | reference | both | any target name | a list
  role: provider                # provider | vector_store | cache | other: each target's dependency
                                # of that role; or `dependency: NAME` for one named dependency
  fault: {kind: rate_limit, rate: 0.5, retry_after_s: 1}
```

A step names the dependency it hits either by ``role`` (built-in scenarios do: every target
declares what each of its dependencies is, so one scenario reaches a vector store whatever the
target calls it) or by ``dependency`` name. ``plan(resolve=...)`` turns a role into each target's
dependency name; without a resolver our apps' names are used (provider, vectordb).

Planning is pure (``plan()``), so a dry run can print what would happen and when.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ragchaos.faults.kinds import FaultSpec
from ragchaos.faults.units import Duration

__all__ = ["DEFAULT_APPS", "DEPENDENCY_ROLES", "FaultStep", "PlannedFault", "Resolver"]

DEFAULT_APPS = ("naive", "reference")
# what a dependency is to a target; a fault step can address a role instead of a name
DEPENDENCY_ROLES = ("provider", "vector_store", "cache", "other")
# our apps' dependency of each role (used when no target tells otherwise)
_OUR_NAMES = {"provider": "provider", "vector_store": "vectordb"}
# (app, step) -> the name of the app's dependency the step hits (None: the app has none)
Resolver = Callable[[str, "FaultStep"], str | None]
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class PlannedFault:
    """One step aimed at one app: what happens and when (seconds from the run start)."""

    step: str
    target: str
    dependency: str
    what: str
    apply_at_s: float
    revert_at_s: float | None  # None: at the end of the run

    def describe(self) -> str:
        until = "the end" if self.revert_at_s is None else f"{self.revert_at_s:g}s"
        return f"{self.apply_at_s:g}s → {until}: {self.step} on {self.target}/{self.dependency}: {self.what}"


class FaultStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    at: Duration = 0.0
    duration: Duration | None = None
    app: str | list[str] = "both"
    dependency: str | None = None
    role: str | None = None
    fault: FaultSpec

    @model_validator(mode="after")
    def _dependency_or_role(self) -> FaultStep:
        if (self.dependency is None) == (self.role is None):
            raise ValueError("give either dependency (a dependency's name) or role "
                             f"({', '.join(DEPENDENCY_ROLES)}), not both or neither")
        if self.dependency is not None and not self.dependency:
            raise ValueError("dependency: an empty name")
        if self.role is not None and self.role not in DEPENDENCY_ROLES:
            raise ValueError(f"role {self.role!r} is not a dependency role; roles: {', '.join(DEPENDENCY_ROLES)}")
        return self

    @property
    def addressed(self) -> str:
        """What the step names: ``vectordb`` or ``role vector_store``."""
        return self.dependency if self.dependency is not None else f"role {self.role}"

    def dependency_of(self, app: str, resolve: Resolver | None = None) -> str | None:
        """The name of ``app``'s dependency this step hits."""
        if resolve is not None:
            return resolve(app, self)
        if self.dependency is not None:
            return self.dependency
        return _OUR_NAMES.get(self.role or "")

    @field_validator("app")
    @classmethod
    def _apps_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("app: give at least one app, or 'both'")
        if any(not a for a in ([value] if isinstance(value, str) else value)):
            raise ValueError("app: an empty name")
        return value

    @property
    def step_name(self) -> str:
        return self.name or f"{self.dependency or self.role}-{self.fault.kind}-at-{self.at:g}s"

    def targets(self, apps: Sequence[str] = DEFAULT_APPS) -> list[str]:
        """The apps this step hits; ``both`` (or ``all``) means every app of the run."""
        names = [self.app] if isinstance(self.app, str) else list(self.app)
        out: list[str] = []
        for name in names:
            for app in (apps if name in ("both", "all") else [name]):
                if app not in out:
                    out.append(app)
        return out

    def validate(self, apps: Sequence[str] | None = None, run_duration_s: float | None = None) -> list[str]:  # type: ignore[override]  # not pydantic's deprecated classmethod
        """Every problem with this step, not just the first (empty: fine)."""
        label = f"fault step {self.step_name!r}"
        errors = [f"{label}: {e}" for e in self.fault.validate()]
        if self.fault.channel == "provider" and "provider" not in (self.dependency, self.role):
            errors.append(
                f"{label}: {self.fault.kind} is a provider fault, so it must address role (or dependency) "
                f"'provider' (not {self.addressed!r}); use a network kind for other dependencies"
            )
        if self.name is not None and (not self.name or set(self.name) - _NAME_CHARS):
            errors.append(f"{label}: name may use only letters, digits, '_', '-' and '.'")
        if self.duration is not None and self.duration <= 0:
            errors.append(f"{label}: duration must be positive (leave it out to last until the end)")
        if apps is not None:
            for target in self.targets(apps):
                if target not in apps:
                    errors.append(f"{label}: app {target!r} is not in this run (apps: {', '.join(apps)})")
        if run_duration_s is not None and self.at >= run_duration_s:
            errors.append(f"{label}: at={self.at:g}s is not before the end of the run ({run_duration_s:g}s)")
        return errors

    def describe(self) -> str:
        until = f"for {self.duration:g}s" if self.duration is not None else "until the end"
        return f"{self.step_name}: at {self.at:g}s {until}, {self.app}/{self.addressed}: {self.fault.describe()}"

    def plan(self, apps: Sequence[str] = DEFAULT_APPS, run_duration_s: float | None = None,
             resolve: Resolver | None = None) -> list[PlannedFault]:
        """Pure: one PlannedFault per target app that has the dependency, with apply and revert times."""
        revert = None if self.duration is None else self.at + self.duration
        if revert is not None and run_duration_s is not None:
            revert = min(revert, run_duration_s)
        out = []
        for app in self.targets(apps):
            dep = self.dependency_of(app, resolve)
            if dep is not None:
                out.append(PlannedFault(self.step_name, app, dep, self.fault.describe(), self.at, revert))
        return out
