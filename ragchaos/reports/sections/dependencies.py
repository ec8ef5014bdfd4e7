"""Every call to every dependency, seen from outside the app: at the fault proxy and at the provider.

Two views that need no code in the target. The proxy's (``PhaseResult.dependencies``, the
built-in proxy only): per dependency endpoint, the attempts it carried (a retry is an attempt),
the openai SDK's retries, 429s, 5xx, calls left without an answer, and the time of the answered
ones. The provider's own counts for the app's key (``/_stats``): attempts, 429s and retries per
answered query. When an app also times its own stages, the proxy's figure for the same call sits
beside it, and the note says what separates the two.
"""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, figures, phase_result
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table

__all__ = ["INSIDE_OUTSIDE", "dependencies"]

# an app's own stage and the proxy endpoint that carries its call (our apps' names)
INSIDE_OUTSIDE = (
    ("query.embed", "proxy.provider.embeddings"),
    ("query.retrieve", "proxy.vectordb.query"),
    ("query.generate", "proxy.provider.chat"),
)


def _proxy_rows(result: RunResult) -> list[list[str]]:
    rows = []
    for app in result.apps:
        pr = phase_result(result, app, ALL)
        for dep, d in pr.dependencies.items():
            for name, e in d.endpoints.items():
                rows.append([app, dep, name, fmt.count(e.attempts), fmt.count(e.retries),
                             fmt.count(e.status.get("429", 0)), fmt.count(e.status.get("5xx", 0)),
                             fmt.count(e.no_response), fmt.ms(e.duration.p50_us if e.duration.count else None),
                             fmt.ms(e.duration.p99_us if e.duration.count else None)])
    return rows


def _provider_rows(result: RunResult) -> list[list[str]]:
    rows = []
    for app in result.apps:
        f = figures(result, app, ALL)
        if f.provider_calls is None or not phase_result(result, app, ALL).provider:
            continue
        rows.append([app, fmt.count(f.answered_queries), fmt.num(f.provider_calls),
                     fmt.num(f.per_answer(f.provider_calls)), fmt.num(f.provider_rate_limited),
                     fmt.num(f.per_answer(f.provider_rate_limited)), fmt.num(f.provider_retries),
                     fmt.num(f.per_answer(f.provider_retries))])
    return rows


def _agreement_rows(result: RunResult) -> list[list[str]]:
    rows = []
    for app in result.apps:
        stages = figures(result, app, ALL).stages
        for own, outside in INSIDE_OUTSIDE:
            a, b = stages.get(own), stages.get(outside)
            if a is None or b is None or not a.count or not b.count:
                continue
            gap = a.p50_us - b.p50_us
            rows.append([app, own, fmt.ms(a.p50_us), outside, fmt.ms(b.p50_us), fmt.ms(gap),
                         fmt.pct(gap / a.p50_us if a.p50_us else None)])
    return rows


def dependencies(result: RunResult) -> Section:
    info = result.run.proxy_calls
    notes: list[str] = []
    tables: list[Table] = []
    proxy_rows = _proxy_rows(result)
    if info is not None and not info.measured:
        notes.append(f"Calls at the fault proxy: {info.note}.")
    elif proxy_rows:
        tables.append(Table(["app", "dependency", "endpoint", "attempts", "SDK retries", "429", "5xx",
                             "no answer", "p50", "p99"], proxy_rows,
                            caption="At the fault proxy, placed in phases by their start: an attempt is one "
                                    "request (each retry counts); p50/p99 of the answered calls (< 400), from "
                                    "the first request byte to the last answer byte as the app got them, "
                                    "faults included. Errors and calls without an answer are counted apart."))
        if info is not None and (info.lost or info.unfinished):
            notes.append(f"{info.lost} call records were lost (the proxy's ring overflowed) and {info.unfinished} "
                         "calls had no answer yet when the run ended; neither is counted.")
    provider_rows = _provider_rows(result)
    if provider_rows:
        tables.append(Table(["app", "answered queries", "provider attempts", "per answer", "429s", "per answer",
                             "SDK retries", "per answer"], provider_rows,
                            caption="The provider's own counts for each app's key: every request it received "
                                    "(retries included), the 429s it sent, and the requests that carried the "
                                    "openai SDK's x-stainless-retry-count > 0. Retries an app makes with its "
                                    "own code (not the SDK's) are attempts here but not SDK retries."))
    agreement = _agreement_rows(result)
    if agreement:
        tables.append(Table(["app", "own stage", "p50", "at the proxy", "p50", "gap", "gap / stage"], agreement,
                            caption="The same calls timed inside the app and at the proxy. The app's stage also "
                                    "holds the client library's own work on each call (building the request, "
                                    "taking a pooled connection, decoding the answer: a few ms), any wait "
                                    "before the call (micro-batching, bulkhead, pacing), and its retries; "
                                    "the proxy's holds every embeddings call, ingestion's too. On a healthy "
                                    "system with dependencies 100 ms away the two medians agree within 10% "
                                    "(measured: +5% embeddings, +6% vector query, +0.5% chat); a larger gap "
                                    "here is one of those waits. The naive app times nothing itself: its "
                                    "stages are the proxy's rows above."))
    if not tables and not notes:
        notes.append("No dependency calls were recorded in this run.")
    return Section(key="dependencies", title="Dependencies, seen from outside",
                   intro="What each app asked of its dependencies, measured where no code in the app is "
                         "needed: at the fault proxy in front of each dependency and at the provider.",
                   tables=tables, notes=notes)
