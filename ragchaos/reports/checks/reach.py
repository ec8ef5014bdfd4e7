"""Fault reach, judged by the one evaluator: one verdict per fault and target from
``results.faults[].reach`` (measured by the runner, ``scenarios.reach``), so the gate, the report,
JUnit and the exit code read the same verdict as every other check, and ``ragchaos gate`` on a
saved run gives it again.

``missed`` fails (a fault phase in which nothing was injected is not a test of anything);
``not judged`` is ``insufficient`` (no call timing, or no request answered in the window):
never a pass or a fail.
"""

from __future__ import annotations

from ragchaos.reports.results import GateCheck, RunResult

__all__ = ["reach_checks"]

EXPR = "the fault's proxy carried the target's calls while the fault was in place"


def reach_checks(result: RunResult) -> list[GateCheck]:
    out = []
    for f in result.faults:
        r = f.reach
        if r is None:
            continue
        status = {"reached": "pass", "missed": "fail", "not judged": "insufficient"}[r.verdict]
        measured = (f"{r.calls} calls, {r.connections} new connections through the proxy"
                    + (f"; the provider served {r.provider_requests} of the key's requests" if r.provider_requests else "")
                    if r.verdict != "not judged" else "not judged")
        out.append(GateCheck(name=f"fault reached: {f.name} ({f.target}/{f.dependency})", expr=EXPR, app=f.target,
                             metric="fault_reach", status=status, passed=status != "fail", measured=measured,
                             reason="" if status == "pass" else r.message, detail=r.message))
    return out
