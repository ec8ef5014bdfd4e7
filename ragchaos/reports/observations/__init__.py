"""Plain-language observations after a run: what the numbers suggest, each tied to its evidence.

A rule is a small object registered by name (``@register("name")``) whose ``__call__`` takes the
run's results and returns ``Observation``s; ``observe(result)`` runs every rule. The report's
"Observations" section and the live view read the same rules, so a note never has two wordings::

    for o in observe(result):
        print(o.text, "—", o.evidence)

Each rule is in a module of its own here, with its own test (tests/reports/test_observations.py).
"""

from __future__ import annotations

from ragchaos.reports.observations import (  # noqa: F401  (each registers its rule)
    fault_missed,
    p99_tracked_fault,
    proxy_not_measured,
    retry_storm,
    sources_missing,
)
from ragchaos.reports.observations.base import RULES, Observation, Rule, observe, register

__all__ = ["RULES", "Observation", "Rule", "observe", "register"]
