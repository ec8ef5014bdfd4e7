"""Errors per app and phase, by class."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures, phase_names
from ragchaos.reports.results import ERROR_CLASSES, RunResult
from ragchaos.reports.sections.base import Section, Table


def errors(result: RunResult) -> Section:
    rows = []
    for app in result.apps:
        for phase in [*phase_names(result, app), ALL]:
            f = figures(result, app, phase)
            rows.append([app, phase, fmt.count(f.requests), fmt.pct(f.error_rate)]
                        + [fmt.count(f.errors.get(c, 0)) for c in ERROR_CLASSES])
    return Section(
        key="errors",
        title="Errors by class",
        tables=[Table(["app", "phase", "requests", "error rate", *ERROR_CLASSES], rows)],
        plots=["timeline.requests"],
        notes=["shed: 503 with Retry-After from the app; quota: 429 from the app's tenant quota; "
               "429: other rate limiting; reset: connection reset or closed."],
    )
