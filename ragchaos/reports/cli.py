"""``ragchaos report | compare | baseline``: the reports part's commands.

- ``ragchaos report RUN_DIR``: rebuild report.html, summary.md, junit.xml, plots/, hdr/ from
  results.json.
- ``ragchaos compare RUN_A RUN_B``: the two runs side by side (Markdown on stdout).
- ``ragchaos baseline save RUN_DIR RUN_DIR RUN_DIR... FILE``: each gated p99 in each of N >= 3
  runs, for ``ragchaos gate --baseline-file`` (which lives in ``ragchaos.scenarios.gate_cli``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ragchaos.core.errors import CliError

__all__ = ["register"]


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


def cmd_baseline_save(args: argparse.Namespace) -> int:
    from ragchaos.reports.checks.grammar import CheckError
    from ragchaos.reports.gate import make_stored, parse_metrics
    from ragchaos.reports.stats.runs import MIN_RUNS

    if len(args.paths) < 2:
        raise CliError("usage: ragchaos baseline save RUN_DIR RUN_DIR RUN_DIR [...] FILE")
    *run_paths, out = args.paths
    if Path(out).is_dir() or (Path(out) / "results.json").exists():
        raise CliError(f"{out}: the last argument is the baseline FILE to write, not a run folder")
    dirs = _run_dirs(run_paths, None)
    if len(dirs) < MIN_RUNS:
        raise CliError(f"a baseline needs at least {MIN_RUNS} runs (their spread is the noise the gate "
                       f"allows for); got {len(dirs)}")
    results = [_load(str(d)) for d in dirs]
    apps = [a.strip() for a in args.apps.split(",")] if args.apps else ["reference"]
    try:
        baseline = make_stored(results, apps, parse_metrics(args.metrics))
    except CheckError as exc:
        raise CliError(str(exc)) from None
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(baseline.to_json(), indent=1, sort_keys=True) + "\n")
    print(f"ragchaos: baseline {out}: {len(baseline.metrics)} metrics x {len(results)} runs")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild a run's reports from its results.json")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or its results.json)")
    p.add_argument("--no-plots", action="store_true", help="skip matplotlib plots (faster)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="two runs side by side")
    p.add_argument("run_a", metavar="RUN_A", help="the first run folder (or results.json): the reference")
    p.add_argument("run_b", metavar="RUN_B", help="the second run folder (or results.json), compared with RUN_A")
    p.add_argument("--out", metavar="FILE", help="write the Markdown there instead of stdout")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("baseline", help="save a baseline for 'ragchaos gate --baseline-file'")
    bsub = p.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    s = bsub.add_parser("save", help="save the gated p99s of 3 or more runs (and their spread) as a baseline file")
    s.add_argument("paths", nargs="+", metavar="RUN_DIR... FILE",
                   help="three or more run folders (or results.json files), then the baseline file to write")
    s.add_argument("--apps", metavar="APP,...", help="apps to keep (default: reference)")
    s.add_argument("--metrics", metavar="METRIC,...", help="metrics to keep (default: the gate's)")
    s.set_defaults(func=cmd_baseline_save)

