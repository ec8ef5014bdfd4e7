"""The observation model and the rule registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ragchaos.core.registry import Registry
from ragchaos.reports.results import RunResult

__all__ = ["RULES", "Observation", "Rule", "observe", "register"]


@dataclass(frozen=True)
class Observation:
    rule: str
    text: str  # the suggestion, in plain words, ending with the question to ask
    evidence: str  # the figures it rests on, so a reader can check it
    app: str | None = None


class Rule(Protocol):
    def __call__(self, result: RunResult) -> list[Observation]: ...


RULES: Registry[Rule] = Registry("observation rule")


def register(name: str) -> Callable[[type], type]:
    """``@register("retry_storm")`` on a rule class: one instance of it is the rule."""
    return RULES.register(name, entry=lambda cls: cls())


def observe(result: RunResult, only: list[str] | None = None) -> list[Observation]:
    """Every rule's observations, in registration order; a rule that fails is skipped, not fatal."""
    out: list[Observation] = []
    for name, rule in RULES.items():
        if only is not None and name not in only:
            continue
        try:
            out += rule(result)
        except (KeyError, ValueError, ZeroDivisionError, AttributeError):
            continue  # a rule that cannot read this run says nothing rather than something wrong
    return out
