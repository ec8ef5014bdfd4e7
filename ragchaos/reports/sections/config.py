"""What was in effect: each app's mechanisms switched off, the provider's overrides and the apps'
extra environment. A reader must see that a clean figure came from a crippled or a coddled
setup before reading the figure (the smoke scenario once passed with retries and cache off)."""

from __future__ import annotations

from typing import Any

from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table

__all__ = ["config", "config_line", "flatten"]


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``{"limits": {"rpm": 5}}`` -> ``[("limits.rpm", "5")]``."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, str(value))]


def _off(result: RunResult, app: str) -> str:
    off = result.apps[app].mechanisms_off
    if off is None:
        return "not reported by the app"
    return ", ".join(off) if off else "none (every mechanism on)"


def config_line(result: RunResult) -> str:
    """One line for the report's header."""
    parts = []
    for app in result.apps:
        off = result.apps[app].mechanisms_off
        if off:
            parts.append(f"{app} mechanisms OFF: {', '.join(off)}")
    overrides = flatten(result.run.provider_overrides)
    if overrides:
        parts.append("provider overrides: " + ", ".join(f"{k}={v}" for k, v in overrides))
    for app, env in result.run.app_env.items():
        if env:
            parts.append(f"{app} env: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    return " · ".join(parts) or "every mechanism on, no provider overrides"


def config(result: RunResult) -> Section:
    rows = [[app, "mechanisms switched off", _off(result, app)] for app in result.apps]
    rows += [["provider", key, value] for key, value in flatten(result.run.provider_overrides)]
    rows += [[app, f"env {k}", v] for app, env in result.run.app_env.items() for k, v in env.items()]
    notes = []
    if any(result.apps[a].mechanisms_off for a in result.apps):
        notes.append("**Mechanisms were switched off** (RAGCHAOS_DISABLE): a check that relies on one of them "
                     "fails, whatever its figure says.")
    if not result.run.provider_overrides:
        notes.append("The provider ran with its defaults.")
    return Section(key="config", title="In effect", tables=[Table(["", "setting", "value"], rows)], notes=notes)
