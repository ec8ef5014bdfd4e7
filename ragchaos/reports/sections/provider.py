"""Provider budget use per app (the provider's own /_stats for the app's key)."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures, phase_result
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table


def provider(result: RunResult) -> Section:
    rows = []
    for app in result.apps:
        pr = phase_result(result, app, ALL)
        f = figures(result, app, ALL)
        for endpoint, st in sorted(pr.provider.items()):
            rows.append([app, endpoint, fmt.count(st.requests), fmt.count(st.inputs), fmt.count(st.tokens_in),
                         fmt.count(st.tokens_out), fmt.count(st.rate_limited), fmt.count(st.errors), fmt.usd(st.cost_usd)])
        if pr.provider:
            rows.append([app, "per answered query", fmt.num(f.per_answer(f.provider_calls)), "",
                         fmt.num(f.per_answer(f.provider_tokens)), "", "", "", fmt.usd(f.per_answer(f.provider_cost_usd))])
    return Section(
        key="provider",
        title="Provider budget",
        tables=[Table(["app", "endpoint", "calls", "inputs", "tokens in", "tokens out", "rate limited", "errors",
                       "cost"], rows)] if rows else [],
        plots=["provider"] if rows else [],
        notes=[] if rows else ["No provider stats in this run."],
    )
