"""Two runs side by side: ``ragchaos compare RUN_A RUN_B`` (pure: two RunResults -> Sections)."""

from __future__ import annotations

from collections.abc import Callable

from ragchaos.reports import fmt
from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.results import RunResult
from ragchaos.reports.sections.base import Section, Table

__all__ = ["compare_sections"]


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "–"
    if a == 0:
        return "=" if b == 0 else "new"
    return f"{(b - a) / a * 100:+.1f}%"


_ROWS: list[tuple[str, Callable[[Figures], float | None], Callable[[float | None], str]]] = [
    ("requests", lambda f: float(f.requests), fmt.num),
    ("error rate", lambda f: f.error_rate, fmt.pct),
    ("query p50", lambda f: f.response["query"].p50_us if "query" in f.response else None, fmt.ms),
    ("query p99", lambda f: f.response["query"].p99_us if "query" in f.response else None, fmt.ms),
    ("query p99.9", lambda f: f.response["query"].p999_us if "query" in f.response else None, fmt.ms),
    ("query p99 (service)", lambda f: f.service["query"].p99_us if "query" in f.service else None, fmt.ms),
    ("query.total p99 (server)", lambda f: f.stages["query.total"].p99_us if "query.total" in f.stages else None, fmt.ms),
    ("throughput", lambda f: f.throughput_rps, fmt.rate),
    ("goodput", lambda f: f.goodput_rps, fmt.rate),
    ("provider calls / answer", lambda f: f.per_answer(f.provider_calls), fmt.num),
    ("cost / answer", lambda f: f.per_answer(f.provider_cost_usd), fmt.usd),
]


def compare_sections(a: RunResult, b: RunResult, label_a: str = "A", label_b: str = "B") -> list[Section]:
    sections = [Section(
        key="runs", title="Runs",
        tables=[Table(["", label_a, label_b], [
            ["scenario", a.scenario.name, b.scenario.name],
            ["seed", str(a.scenario.seed), str(b.scenario.seed)],
            ["duration", f"{a.duration_s:.0f} s", f"{b.duration_s:.0f} s"],
            ["gate", "–" if a.gate is None else ("PASS" if a.gate.passed else "FAIL"),
             "–" if b.gate is None else ("PASS" if b.gate.passed else "FAIL")],
        ])],
        notes=[] if a.scenario.name == b.scenario.name else ["The runs are of different scenarios."],
    )]
    for app in [x for x in a.apps if x in b.apps] + [x for x in b.apps if x not in a.apps] + \
            [x for x in a.apps if x not in b.apps]:
        if app not in a.apps or app not in b.apps:
            sections.append(Section(key=f"app-{app}", title=app, notes=[f"{app} is only in one of the runs."]))
            continue
        fa, fb = figures(a, app, ALL), figures(b, app, ALL)
        rows = []
        for label, get, show in _ROWS:
            va, vb = get(fa), get(fb)
            if va is None and vb is None:
                continue
            rows.append([label, show(va), show(vb), _change(va, vb)])
        sections.append(Section(key=f"app-{app}", title=app, tables=[Table(["", label_a, label_b, "change"], rows)]))
    return sections
