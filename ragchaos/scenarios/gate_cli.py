"""``ragchaos gate``: hold a run (or a fresh same-run A/B) to its checks; exit codes for scripts.

    ragchaos gate --baseline-ref origin/main          # run the ci scenario: this tree beside origin/main
    ragchaos gate RUN_DIR                             # judge a finished run folder
    ragchaos gate RUN_DIR --baseline-file ci/baseline.json

The verdicts come from the one evaluator (``ragchaos.reports.checks``); the files from
``ragchaos.reports.gate``. This part registers the command because an A/B gate runs a scenario.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ragchaos.core.errors import CliError

__all__ = ["register"]

EPILOG = """\
exit status:
  0  every check passed (warnings and "insufficient data" are printed, and do not fail)
  1  a check failed or a regression against the baseline was detected
  2  a usage or configuration error (a bad option, scenario, check or file), nothing judged
  3  a harness failure: the run or the baseline build could not be carried out

a verdict against the baseline reads
  reference query.total p99 vs baseline: +23% [+14%, +31%] (95% CI, n=3,212 vs 3,198) ... REGRESSION
the change of the candidate's p99 over the baseline's, its 95% interval, the samples on each side;
"resolution" is the smallest increase this run detects with 95% power. The whole gate's chance of
a false alarm is at most --alpha (Holm's procedure over every gated metric). See docs/ci.md.
"""


def _fraction(text: str, what: str) -> float:
    from ragchaos.reports.checks.grammar import CheckError, parse_fraction

    try:
        return parse_fraction(text, what=what)
    except CheckError as exc:
        raise CliError(str(exc)) from None


def _source(args: argparse.Namespace) -> Any:
    from ragchaos.scenarios.baseline_build import BaselineSource

    given = [(k, v) for k, v in (("ref", args.baseline_ref), ("command", args.baseline_command),
                                 ("url", args.baseline_url)) if v]
    if len(given) > 1:
        raise CliError("give one of --baseline-ref, --baseline-command, --baseline-url")
    if given and args.run_dir:
        raise CliError("a baseline build runs a new scenario; give RUN_DIR or a baseline build, not both")
    return BaselineSource(*given[0]) if given else None


def _run_ab(args: argparse.Namespace, source: Any) -> Path:
    """Run the scenario (with the baseline build beside the candidate, when given); the run folder."""
    from ragchaos.core.procs import ProcessStartError
    from ragchaos.scenarios.baseline_build import BaselineError, ab_scenario, baseline_target
    from ragchaos.scenarios.loader import ScenarioError, find_scenario, load_scenario
    from ragchaos.scenarios.options import RunOptions, prepare_scenario
    from ragchaos.scenarios.runner import RunFailed, run_scenario
    from ragchaos.scenarios.seed import SeedError

    try:
        scenario = load_scenario(args.scenario)
        file = str(find_scenario(args.scenario))
        opts = RunOptions(apps=None, quick=args.quick, seed=args.seed, out=Path(args.out), file=file)
        scenario = prepare_scenario(scenario, opts)
    except ScenarioError as exc:
        raise CliError("\n".join(exc.problems)) from None
    candidate = args.candidate
    if source is not None:
        try:
            target, what = baseline_target(source, candidate, Path(args.out))
            scenario = ab_scenario(scenario, candidate, target)
        except BaselineError as exc:
            raise _Harness(f"baseline build: {exc}") from None
        print(f"ragchaos gate: baseline = {what}; candidate = this tree's {candidate}")
    try:
        return run_scenario(scenario, opts)
    except (ProcessStartError, SeedError, RunFailed) as exc:
        raise _Harness(str(exc)) from None


class _Harness(RuntimeError):
    """The run or the baseline could not be carried out (exit 3)."""


def cmd_gate(args: argparse.Namespace) -> int:
    from ragchaos.reports.gate import EXIT_HARNESS

    try:
        return _gate(args)
    except _Harness as exc:
        print(f"ragchaos gate: harness failure: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    except (CliError, KeyboardInterrupt):
        raise
    except Exception:  # a bug in the harness is not a failed check: exit 3, with the traceback
        traceback.print_exc()
        print("ragchaos gate: harness failure (the traceback above)", file=sys.stderr)
        return EXIT_HARNESS


def _gate(args: argparse.Namespace) -> int:
    from ragchaos.reports.checks.evaluate import evaluate, verdict_line
    from ragchaos.reports.checks.grammar import BASELINE, CheckError
    from ragchaos.reports.checks.regression import RegressionPolicy, load_stored
    from ragchaos.reports.gate import (
        EXIT_FAILED,
        EXIT_PASS,
        check_apps,
        gate_specs,
        parse_metrics,
        render_gate_markdown,
        summary_line,
        write_gate_files,
    )
    from ragchaos.reports.results import ResultsError, load_results

    policy = RegressionPolicy(alpha=_fraction(args.alpha, "--alpha"), want=_fraction(args.want, "--want"))
    source = _source(args)
    try:
        metrics = parse_metrics(args.metrics)
        stored = load_stored(args.baseline_file) if args.baseline_file else None
        for expr in args.check or []:
            from ragchaos.reports.checks.grammar import parse_check

            parse_check(expr)
    except CheckError as exc:
        raise CliError(str(exc)) from None
    if args.run_dir:
        run_dir = Path(args.run_dir)
        if not (run_dir / "results.json").is_file():
            raise CliError(f"{run_dir}: not a run folder (no results.json)")
    else:
        run_dir = _run_ab(args, source)
    try:
        result = load_results(run_dir)
    except ResultsError as exc:
        raise CliError(str(exc)) from None
    apps = [a.strip() for a in args.apps.split(",") if a.strip()] if args.apps else [
        a for a in ("reference",) if a in result.apps] or [a for a in result.apps if a != BASELINE][:1]
    baseline_app = BASELINE if BASELINE in result.apps else None
    try:
        check_apps(apps, result)
        specs = gate_specs(result, apps=apps, metrics=metrics, extra=args.check or [],
                           against_baseline=baseline_app is not None or stored is not None)
    except CheckError as exc:
        raise CliError(str(exc)) from None
    gate = evaluate(result, specs, apps=apps, baseline_app=baseline_app, stored=stored, policy=policy)
    meta = {"run": str(run_dir), "scenario": result.scenario.name, "apps": ", ".join(apps),
            "baseline": (source.describe() if source else ("same run" if baseline_app else
                         (args.baseline_file or "none"))),
            "alpha": f"{policy.alpha:g} (whole gate, Holm)", "want": f"+{policy.want * 100:g}%"}
    out_dir = Path(args.gate_out) if args.gate_out else run_dir
    written = write_gate_files(out_dir, result, gate, meta)
    if args.junit:
        Path(args.junit).write_text(written["junit"].read_text())
    if args.markdown:
        Path(args.markdown).write_text(written["markdown"].read_text())
    if args.github_summary is not None:
        target = args.github_summary or os.environ.get("GITHUB_STEP_SUMMARY")
        if target:
            with open(target, "a") as fh:
                fh.write(render_gate_markdown(gate, meta))
    order = {"pass": 3, "insufficient": 2, "warn": 1, "fail": 0}
    for c in sorted(gate.checks, key=lambda c: order[c.state]):
        if c.state != "pass" or args.verbose or c.ratio is not None:
            print(verdict_line(c))
    print(f"ragchaos gate: files {written['json']}, {written['junit'].name}, {written['markdown'].name}")
    print(summary_line(gate))
    return EXIT_PASS if gate.passed else EXIT_FAILED


def register(sub: Any) -> None:
    from ragchaos.reports.gate import DEFAULT_METRICS

    p = sub.add_parser(
        "gate", help="hold a run, or a same-run A/B against a baseline build, to its checks (exit 0/1/2/3)",
        description="Judge a run folder, or run a scenario with a baseline build beside this tree and "
                    "decide, per gated metric, whether the candidate regressed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="a finished run folder (default: run --scenario)")
    src = p.add_argument_group("baseline (one of)")
    src.add_argument("--baseline-ref", metavar="REF", help="a git ref of this repository, built into its own folder")
    src.add_argument("--baseline-command", metavar="CMD", help="a command that serves the baseline on {port}")
    src.add_argument("--baseline-url", metavar="URL", help="a baseline already running on loopback")
    src.add_argument("--baseline-file", metavar="FILE", help="a stored baseline ('ragchaos baseline save', >= 3 runs)")
    p.add_argument("--scenario", default="ci", help="the scenario to run (default: ci, sized for this gate)")
    p.add_argument("--candidate", default="reference", help="the app of this tree (default: reference)")
    p.add_argument("--apps", metavar="APP,...", help="apps to gate (default: reference; the naive app only when named)")
    p.add_argument("--metrics", metavar="METRIC,...",
                   help=f"latency percentiles gated against the baseline (default: {','.join(DEFAULT_METRICS)})")
    p.add_argument("--check", action="append", metavar="EXPR", help="an extra check, e.g. 'reference.error_rate < 1%%'")
    p.add_argument("--alpha", default="1%", metavar="PCT", help="the whole gate's false-alarm rate (default 1%%)")
    p.add_argument("--want", default="20%", metavar="PCT",
                   help="the regression the gate must be able to see; a coarser resolution warns (default 20%%)")
    p.add_argument("--out", default="runs", help="where run folders and baseline builds go (default: runs/)")
    p.add_argument("--gate-out", metavar="DIR", help="where gate.json, gate-junit.xml, gate.md go (default: the run folder)")
    p.add_argument("--junit", metavar="FILE", help="also copy the gate's JUnit XML here")
    p.add_argument("--markdown", metavar="FILE", help="also copy the gate's Markdown here")
    p.add_argument("--github-summary", nargs="?", const="", metavar="FILE",
                   help="append the Markdown to FILE (default: $GITHUB_STEP_SUMMARY)")
    p.add_argument("--quick", action="store_true", help="the scenario's times scaled down (fewer samples)")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    p.set_defaults(func=cmd_gate)
