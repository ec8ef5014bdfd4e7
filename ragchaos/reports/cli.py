"""``ragchaos report | compare | gate | baseline``: the reports part's commands.

- ``ragchaos report RUN_DIR``: rebuild report.html, summary.md, junit.xml, plots/, hdr/ from
  results.json.
- ``ragchaos compare RUN_A RUN_B``: the two runs side by side (Markdown on stdout).
- ``ragchaos gate RUN_DIR... [--baseline FILE] [--max-p99-regression 10%] [--noise-floor 1ms]
  [--repeat N] [--check EXPR]``: exit 0 if every check passes, 1 with one line per failed
  check otherwise (2 for a usage error).
- ``ragchaos baseline save RUN_DIR... FILE``: the p99s of the run(s) (medians) as a baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ragchaos.core.errors import CliError

__all__ = ["register"]

_OWN_PREFIXES = ("threshold:", "mechanism:", "regression:")


def _load(path: str):
    from ragchaos.reports.results import ResultsError, load_results

    try:
        return load_results(path)
    except ResultsError as exc:
        raise CliError(str(exc)) from None


def _run_dirs(paths: list[str], repeat: int | None) -> list[Path]:
    """Run folders from the arguments: a folder with results.json is a run; any other folder is
    searched one level down. With ``--repeat N``, the N newest runs of the newest scenario."""
    runs: list[Path] = []
    for p in paths:
        path = Path(p)
        if (path / "results.json").is_file() or path.name == "results.json":
            runs.append(path if path.is_dir() else path.parent)
        elif path.is_dir():
            runs += sorted(d for d in path.iterdir() if (d / "results.json").is_file())
        else:
            raise CliError(f"{path}: not a run folder (no results.json)")
    if not runs:
        raise CliError(f"no run folders found in {', '.join(paths)}")
    if repeat is not None:
        if repeat < 1:
            raise CliError("--repeat must be at least 1")
        loaded = [(_load(str(d)), d) for d in runs]
        newest = max(loaded, key=lambda x: x[0].run.started_at)[0].scenario.name
        same = sorted((x for x in loaded if x[0].scenario.name == newest), key=lambda x: x[0].run.started_at)
        if len(same) < repeat:
            raise CliError(f"--repeat {repeat}: only {len(same)} run(s) of scenario {newest!r} found")
        runs = [d for _, d in same[-repeat:]]
    return runs


def cmd_report(args: argparse.Namespace) -> int:
    from ragchaos.reports.build import write_reports

    result = _load(args.run_dir)
    written = write_reports(args.run_dir, result, plots=not args.no_plots)
    print(f"ragchaos: report {written['report']}")
    print(f"ragchaos: summary {written['summary']}, junit {written['junit']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ragchaos.reports.compare import compare_sections
    from ragchaos.reports.render import render_markdown

    a, b = _load(args.run_a), _load(args.run_b)
    text = render_markdown(f"ragchaos compare: {Path(args.run_a).name} vs {Path(args.run_b).name}",
                           compare_sections(a, b, Path(args.run_a).name, Path(args.run_b).name))
    if args.out:
        Path(args.out).write_text(text)
        print(f"ragchaos: comparison {args.out}")
    else:
        print(text, end="")
    return 0


def _recorded_checks(results) -> list:
    """Checks another part recorded in the runs' gate (e.g. steady-state): kept, majority vote."""
    from ragchaos.reports.results import GateCheck

    by_name: dict[str, list] = {}
    for r in results:
        for c in (r.gate.checks if r.gate else []):
            if not c.name.startswith(_OWN_PREFIXES):
                by_name.setdefault(c.name, []).append(c)
    out = []
    for name, checks in by_name.items():
        passed = sum(c.passed for c in checks) * 2 > len(checks)
        last = checks[-1]
        reason = "" if passed else (next((c.reason for c in checks if not c.passed), "") +
                                    (f" (failed in {sum(not c.passed for c in checks)} of {len(checks)} runs)"
                                     if len(checks) > 1 else ""))
        out.append(GateCheck(name=name, expr=last.expr, measured=last.measured, passed=passed, reason=reason))
    return out


def cmd_gate(args: argparse.Namespace) -> int:
    from ragchaos.reports.build import finalize
    from ragchaos.reports.gate import GateError, load_baseline, parse_fraction, parse_latency, run_gate
    from ragchaos.reports.junit import render_junit
    from ragchaos.reports.results import GateResult

    dirs = _run_dirs(args.run_dirs, args.repeat)
    results = [_load(str(d)) for d in dirs]
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
        gate = run_gate(
            results,
            extra_exprs=args.check or [],
            baseline=baseline,
            max_regression=parse_fraction(args.max_p99_regression),
            floor_us=parse_latency(args.noise_floor),
        )
    except GateError as exc:
        raise CliError(str(exc)) from None
    checks = gate.checks + _recorded_checks(results)
    gate = GateResult(passed=all(c.passed for c in checks), checks=checks)
    if len(results) == 1:  # the run folder records its own gate outcome
        result = finalize(results[0])
        result.gate = gate
        result.save(dirs[0] / "results.json")
        (dirs[0] / "junit.xml").write_text(render_junit(result, gate))
    if args.junit:
        Path(args.junit).write_text(render_junit(results[-1], gate))
    failed = [c for c in gate.checks if not c.passed]
    for c in failed:
        print(f"FAIL {c.name}: {c.reason}")
    runs = f"median of {len(results)} runs" if len(results) > 1 else dirs[0].name
    verdict = "PASS" if gate.passed else "FAIL"
    print(f"ragchaos gate: {verdict} ({len(gate.checks) - len(failed)} of {len(gate.checks)} checks passed; {runs})")
    return 0 if gate.passed else 1


def cmd_baseline_save(args: argparse.Namespace) -> int:
    from ragchaos.reports.gate import make_baseline

    if len(args.paths) < 2:
        raise CliError("usage: ragchaos baseline save RUN_DIR [RUN_DIR...] FILE")
    *run_paths, out = args.paths
    dirs = _run_dirs(run_paths, None)
    results = [_load(str(d)) for d in dirs]
    names = {r.scenario.name for r in results}
    if len(names) > 1:
        raise CliError(f"runs of different scenarios cannot make one baseline: {', '.join(sorted(names))}")
    baseline = make_baseline(results)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(baseline.to_json(), indent=1, sort_keys=True) + "\n")
    p99s = list(baseline.metrics.values())
    print(f"ragchaos: baseline {out}: {len(baseline.metrics)} p99s from {len(results)} run(s)"
          + (f", median {statistics.median(p99s) / 1000:.1f} ms" if p99s else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild a run's reports from its results.json")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--no-plots", action="store_true", help="skip matplotlib plots (faster)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="two runs side by side")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--out", metavar="FILE", help="write the Markdown there instead of stdout")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("gate", help="check thresholds, mechanism verdicts and p99 regression; exit 1 on failure",
                       description="Gate one run, or the median of several runs of one scenario.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folder(s), or a folder of runs")
    p.add_argument("--baseline", metavar="FILE", help="a baseline saved with 'ragchaos baseline save'")
    p.add_argument("--max-p99-regression", default="10%", metavar="PCT", help="allowed p99 growth (default 10%%)")
    p.add_argument("--noise-floor", default="1ms", metavar="DURATION",
                   help="a p99 change below this is never a regression (default 1ms)")
    p.add_argument("--repeat", type=int, metavar="N", help="gate on the medians of the N newest runs")
    p.add_argument("--check", action="append", metavar="EXPR", help="an extra threshold, e.g. 'reference.error_rate < 1%%'")
    p.add_argument("--junit", metavar="FILE", help="also write the checks as JUnit XML here")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("baseline", help="save a baseline for 'ragchaos gate --baseline'")
    bsub = p.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    s = bsub.add_parser("save", help="save the p99s of run(s) as a baseline file")
    s.add_argument("paths", nargs="+", metavar="RUN_DIR... FILE")
    s.set_defaults(func=cmd_baseline_save)

