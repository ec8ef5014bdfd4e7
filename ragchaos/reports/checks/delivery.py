"""Load delivery, judged by the one evaluator: did the run deliver the load it was asked for?

In the open model every arrival of the schedule should be sent at its intended time. An arrival
the load generator dropped (``max_in_flight`` requests already outstanding) measured nothing
about the system: a run that dropped more than ``MAX_DROPPED_SHARE`` of an app's arrivals fails
its own validity check, whatever its other figures say ("46 requests, 6.5% errors" out of 200
scheduled is not a result). Requests sent late (the generator fell behind its schedule) are still
timed from their intended time, so a large late share is a warning, not a failure.

A run stopped by Ctrl-C or SIGTERM (``run.interrupted``) keeps and reports its measured part,
and fails the check "run completed": its figures cover only part of the scenario.

One verdict per app of an open-model run (a closed-model run has no schedule to fall behind),
so the gate, the report, JUnit and the exit code read the same verdict as every other check.
"""

from __future__ import annotations

from typing import Final

from ragchaos.reports.analysis import ALL, figures
from ragchaos.reports.results import GateCheck, RunResult

__all__ = ["MAX_DROPPED_SHARE", "MAX_LATE_SHARE", "delivery_checks", "not_delivered"]

MAX_DROPPED_SHARE: Final = 0.01  # more than 1% of the schedule never sent: the run is not valid
MAX_LATE_SHARE: Final = 0.10  # more than 10% sent 50 ms or more behind schedule: a warning

EXPR = f"the load generator delivered its schedule (dropped <= {MAX_DROPPED_SHARE:.0%} of arrivals)"


def not_delivered(result: RunResult) -> list[str]:
    """Apps whose load-delivery verdict in the run's gate failed (the evaluator's verdict, read,
    not judged again: the headlines say "run not valid" exactly when the gate does)."""
    if result.gate is None:
        return []
    return [c.app for c in result.gate.checks if c.metric == "load_delivery" and c.state == "fail" and c.app]


def delivery_checks(result: RunResult) -> list[GateCheck]:
    out = []
    if result.run.interrupted:
        at = result.run.interrupted_at_s
        planned = result.scenario.duration_s
        part = (f"{at:g} s of {planned:g} s" if at is not None and planned else "part") + " of the load"
        out.append(GateCheck(name="run completed", expr="the run was not interrupted", metric="run_completed",
                             status="fail", passed=False, measured=f"interrupted after {part}",
                             reason=f"run interrupted (Ctrl-C or SIGTERM) after {part}: the figures cover only "
                                    "the measured part, and checks on phases it did not reach have no data"))
    if result.scenario.load_model != "open":
        return out
    for app in result.apps:
        f = figures(result, app, ALL)
        if not f.scheduled:
            continue
        measured = (f"dropped {f.dropped:,} of {f.scheduled:,} scheduled arrivals ({f.dropped_rate:.1%}); "
                    f"sent late {f.late:,} ({f.late_rate:.1%})")
        if f.dropped_rate > MAX_DROPPED_SHARE:
            status, reason = "fail", (
                f"run not valid: the load generator dropped {f.dropped:,} of {f.scheduled:,} arrivals "
                f"({f.dropped_rate:.1%} > {MAX_DROPPED_SHARE:.0%}) because max_in_flight requests were "
                "outstanding; the run did not deliver its load, so its figures say nothing about the "
                "system at that load (raise load.max_in_flight, lower the rate, or add --workers)")
        elif f.late_rate > MAX_LATE_SHARE:
            status, reason = "warn", (
                f"{f.late:,} of {f.requests:,} requests ({f.late_rate:.1%}) were sent more than 50 ms behind "
                "schedule: the load generator could not keep up (response times still count from the "
                "intended time)")
        else:
            status, reason = "pass", ""
        out.append(GateCheck(name=f"load delivered: {app}", expr=EXPR, app=app, metric="load_delivery",
                             status=status, passed=status != "fail", measured=measured, reason=reason,
                             value=f.dropped_rate, n=f.scheduled))
    return out
