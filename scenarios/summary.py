"""The few lines a run prints at its end: per app and phase, what the client saw, and the gate."""

from __future__ import annotations

from reports.results import RunResult

__all__ = ["summary_lines"]


def summary_lines(result: RunResult) -> list[str]:
    """A per app x phase table (requests, errors, p50/p99 from the intended send) and the gate."""
    lines = [f"{'app':<10} {'phase':<11} {'requests':>8} {'errors':>7} {'p50':>9} {'p99':>9}  errors by class"]
    for app, ar in result.apps.items():
        for name, pr in ar.phases.items():
            c = pr.client
            lat = c.latency.response_time
            err = (c.requests - c.ok) / c.requests if c.requests else 0.0
            classes = ", ".join(f"{k} {v}" for k, v in c.errors.items() if v)
            lines.append(f"{app:<10} {name:<11} {c.requests:>8} {err:>7.1%} {lat.p50_us / 1000:>7.0f}ms "
                         f"{lat.p99_us / 1000:>7.0f}ms  {classes}")
    if result.gate is not None:
        failed = [c for c in result.gate.checks if not c.passed]
        lines.append(f"gate: {'PASSED' if result.gate.passed else 'FAILED'} "
                     f"({len(result.gate.checks) - len(failed)}/{len(result.gate.checks)} checks)")
        lines += [f"  FAIL {c.name}: {c.reason or c.measured}" for c in failed]
    return lines
