"""Writing a run folder's reports: ``write_reports(run_dir, result)``.

Also what the runner calls at the end of a run: ``finalize(result)`` judges the scenario's
checks (``reports.checks``, the one evaluator) and files the mechanism checks' verdicts under
each app, then
``write_reports`` saves ``results.json`` and renders ``report.html``, ``summary.md``,
``junit.xml``, ``plots/*.png`` and ``hdr/*.hlog``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ragchaos.reports.ablation import fill_ablation
from ragchaos.reports.analysis import ALL, figures, outcome_counts, phase_names, phase_result
from ragchaos.reports.checks.evaluate import evaluate, mechanism_verdicts
from ragchaos.reports.hlog import write_hlogs
from ragchaos.reports.junit import render_junit
from ragchaos.reports.plots import plot, to_png
from ragchaos.reports.render import render_html, render_markdown
from ragchaos.reports.results import ProviderAttempts, RunResult
from ragchaos.reports.sections import build_sections
from ragchaos.reports.sections.config import config_line

__all__ = ["finalize", "write_reports"]


def finalize(result: RunResult, *, regate: bool = False) -> RunResult:
    """Judge the run once (``reports.checks.evaluate``) and file the mechanism checks' verdicts
    under each app, so the report's mechanism table and the gate read the same verdicts."""
    for app_result in result.apps.values():  # ok / degraded / error / dropped in results.json too
        for pr in app_result.phases.values():
            pr.outcomes = outcome_counts(pr)
    if result.gate is None or regate:
        result.gate = evaluate(result)
    fill_ablation(result)
    for app, verdicts in mechanism_verdicts(result.gate).items():
        if app in result.apps:
            result.apps[app].mechanisms = verdicts
    for app in result.apps:
        result.apps[app].provider_attempts = provider_attempts(result, app)
    return result


def provider_attempts(result: RunResult, app: str) -> dict[str, ProviderAttempts]:
    """Per phase and over the run: the provider's requests from ``app`` per answered query."""
    out: dict[str, ProviderAttempts] = {}
    for phase in [*phase_names(result, app), ALL]:
        f = figures(result, app, phase)
        if f.provider_calls is None or not phase_result(result, app, phase).provider:
            continue  # a target the provider does not count (no key of its own)
        per = f.per_answer(f.provider_calls)
        out[phase] = ProviderAttempts(answered=f.answered_queries, attempts=int(f.provider_calls),
                                      retries=int(f.provider_retries or 0),
                                      rate_limited=int(f.provider_rate_limited or 0),
                                      per_answer=None if per is None else round(per, 4))
    return out


def _title(result: RunResult) -> tuple[str, str]:
    when = datetime.fromtimestamp(result.run.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = (f"{when} · {result.duration_s:.0f} s · {result.scenario.load_model} model · seed {result.scenario.seed}"
           f" · apps: {', '.join(result.apps)}")
    sub += " · " + config_line(result)
    if result.run.interrupted:
        sub += (f" · INTERRUPTED after {result.run.interrupted_at_s or 0:g} s of {result.scenario.duration_s or 0:g} s:"
                " the measured part only")
    variants = ", ".join(f"{app}: {v} variant" for app, v in sorted(result.run.variants.items()))
    return f"ragchaos: {result.scenario.name}" + (f" ({variants})" if variants else ""), sub


def write_reports(run_dir: str | Path, result: RunResult, *, plots: bool = True) -> dict[str, Path]:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    finalize(result)
    written = {"results": result.save(run_dir / "results.json")}
    sections = build_sections(result)
    title, subtitle = _title(result)

    md_sections = build_sections(result, only=["config", "headline", "gate", "outcomes", "mechanisms", "ablation",
                                              "observations", "latency", "errors"])
    summary = run_dir / "summary.md"
    summary.write_text(render_markdown(title, md_sections))
    written["summary"] = summary

    junit = run_dir / "junit.xml"
    assert result.gate is not None  # finalize() above gates every result it has not gated yet
    junit.write_text(render_junit(result, result.gate))
    written["junit"] = junit

    for path in write_hlogs(result, run_dir / "hdr"):
        written[f"hdr/{path.name}"] = path

    pngs: dict[str, bytes] = {}
    if plots:
        plot_dir = run_dir / "plots"
        plot_dir.mkdir(exist_ok=True)
        for s in sections:
            for name in s.plots:
                if name in pngs:
                    continue
                pngs[name] = to_png(plot(result, name))
                path = plot_dir / f"{name}.png"
                path.write_bytes(pngs[name])
                written[f"plots/{path.name}"] = path
    report = run_dir / "report.html"
    report.write_text(render_html(title, subtitle, sections, pngs))
    written["report"] = report
    return written
