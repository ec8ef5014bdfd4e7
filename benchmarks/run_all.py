"""``make bench``: every benchmark in this folder, one after another, and where its figures went.

    .venv/bin/python benchmarks/run_all.py                 # make bench: quick settings, a few minutes
    .venv/bin/python benchmarks/run_all.py --full          # make bench FULL=1: the settings BENCHMARKS.md quotes
    .venv/bin/python benchmarks/run_all.py --only proxy recording
    .venv/bin/python benchmarks/run_all.py --list

Each benchmark runs as its own process, ``python benchmarks/bench_<name>.py --json <file>``
(plus ``--quick``, or the full settings below, where ``{out}`` is the output folder and an
argument ``glob:PATTERN`` stands for the paths that match it, so one benchmark can read what an
earlier one recorded), with a time limit; its figures go to
``<out>/<name>.json`` (with the command, the date and the load average: see figures.py) and
what it printed to ``<out>/<name>.log``. ``<out>`` is ``runs/bench/<UTC time>-quick`` or
``-full``. A benchmark that takes a fixed long time (the soak) is listed and skipped by the
quick settings, with the reason. One that fails or runs out of time is reported, the others
still run, and the exit code is 1.

Quick figures come from a few seconds of samples each: they show that every benchmark runs
and roughly where its figure lies, and are not figures to quote.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Benchmark:
    """One ``bench_<name>.py``: what it measures and how ``make bench`` runs it."""

    name: str
    measures: str
    full_args: tuple[str, ...] = ()  # the settings BENCHMARKS.md quotes (the script's defaults if empty)
    quick_skip: str | None = None  # why the quick settings leave it out (None: they run it)
    full_limit_s: float = 1800.0
    folder: Path = HERE
    needs: str | None = None  # a benchmark whose recorded output this one reads (it must have run)

    @property
    def script(self) -> Path:
        return self.folder / f"bench_{self.name}.py"

    def argv(self, full: bool, json_path: Path) -> list[str]:
        settings = expand(self.full_args, json_path.parent) if full else ["--quick"]
        return [sys.executable, str(self.script), *settings, "--json", str(json_path)]


def expand(args: Sequence[str], out: Path) -> list[str]:
    """``{out}`` -> the output folder; ``glob:PATTERN`` -> the matching paths, sorted."""
    expanded: list[str] = []
    for arg in args:
        arg = arg.replace("{out}", str(out))
        expanded += sorted(glob.glob(arg.removeprefix("glob:"))) if arg.startswith("glob:") else [arg]
    return expanded


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("provider", "the simulated provider's embeddings requests per server CPU-second",
              ("--duration", "10")),
    Benchmark("proxy", "the fault proxy's added round-trip latency, throughput and isolation"),
    Benchmark("call_timing", "what timing every call costs the fault proxy (timing on versus --no-call-timing)"),
    Benchmark("inside_outside", "the reference app's own stage p50s beside the same calls timed at the proxy"),
    Benchmark("recording", "what recording every request costs a Locust user; histogram memory",
              ("--duration", "8", "--rounds", "6", "--users", "8")),
    Benchmark("apps", "queries/s and CPU per query of the naive and the reference app",
              ("--queries", "300", "--warmup", "30", "--rounds", "3")),
    Benchmark("shared_stores", "the reference app's state operations in-process and on Redis",
              ("--ops", "2000", "--rounds", "3")),
    Benchmark("breaker_store", "a circuit breaker's admit + record with its state in-process and on Redis (fleet scope)",
              ("--ops", "5000", "--rounds", "5")),
    Benchmark("poison_ingest", "good documents' freshness with 2% poison beside none, both queue modes, a 503 window",
              ("--docs", "1000", "--rounds", "2")),
    Benchmark("overload", "the reference app at ten times its capacity: what it sheds and keeps",
              ("--capacity-queries", "200")),
    Benchmark("live", "the live view: event to pixel, press to band, and its CPU cost to the harness",
              ("--rate", "4", "--window", "60")),
    Benchmark("redis_cancel", "how often redis-py loses a task's cancel mid-command, and that cancel_and_wait still ends it"),
    Benchmark("gc_freeze", "the collector's full passes in the reference app with its startup heap frozen and not",
              ("--out", "{out}/gc-freeze")),
    Benchmark("soak", "the reference app's resident memory over the 10-minute soak scenario",
              quick_skip="fixed length: ten minutes of load plus seeding and the report",
              full_limit_s=1500.0),
    Benchmark("gate_runs", "real gate runs of the ci scenario: A/A (unchanged) and A/B (candidate slowed)",
              ("--aa", "10", "--ab", "10", "--toxic-ms", "50", "--out", "{out}/gate-runs"),
              quick_skip="each run is a whole gate of the ci scenario, a few minutes with the baseline build",
              full_limit_s=4 * 3600.0),
    Benchmark("gate_stats", "the gate's false-alarm rate and power, simulated on the runs gate_runs recorded",
              # the A/A runs only (ci-<time>; the A/B runs are ci-slower-<time>): both sides of a trial
              # are drawn from one unchanged run
              ("glob:{out}/gate-runs/runs/ci-2*/", "--metric", "response.query.p99", "--metric", "query.total.p99",
               "--per-run", "400"),
              quick_skip="it reads run folders of the ci scenario, which only gate_runs (FULL=1) records",
              needs="gate_runs"),
)
QUICK_LIMIT_S = 300.0  # per benchmark; the quick settings need well under a minute each on 2 cores


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "ok", "failed (exit N)", "timed out after N s", "skipped: why"
    seconds: float = 0.0
    figures: Path | None = None
    log: Path | None = None

    @property
    def failed(self) -> bool:
        return not (self.status == "ok" or self.status.startswith("skipped"))


def unregistered(folder: Path = HERE, benchmarks: Sequence[Benchmark] = BENCHMARKS) -> list[str]:
    """Benchmark scripts in ``folder`` that the runner does not know (each must be listed)."""
    known = {b.script.name for b in benchmarks}
    return sorted(p.name for p in folder.glob("bench_*.py") if p.name not in known)


def run_one(bench: Benchmark, full: bool, out: Path, limit_s: float) -> Outcome:
    """Run one benchmark as its own process group, bounded by ``limit_s``."""
    if not full and bench.quick_skip:
        return Outcome(bench.name, f"skipped: {bench.quick_skip}; make bench FULL=1 runs it")
    if bench.needs and not (out / f"{bench.needs}.json").exists():
        return Outcome(bench.name, f"failed (needs the output of {bench.needs}, which did not run or failed)")
    figures, log = out / f"{bench.name}.json", out / f"{bench.name}.log"
    started = time.monotonic()
    with log.open("w") as sink:
        proc = subprocess.Popen(bench.argv(full, figures), cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own group: a timeout stops its servers too
        try:
            code = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            return Outcome(bench.name, f"timed out after {limit_s:.0f} s", time.monotonic() - started, None, log)
    took = time.monotonic() - started
    if code != 0:
        return Outcome(bench.name, f"failed (exit {code})", took, None, log)
    if not figures.exists():
        return Outcome(bench.name, "failed (exit 0 but no figure file)", took, None, log)
    return Outcome(bench.name, "ok", took, figures, log)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)  # the group we started, by its leader's PID
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def headline(figures: Path) -> dict[str, str]:
    """The benchmark's own headline lines (label -> value), if it wrote any."""
    try:
        return dict(json.loads(figures.read_text()).get("figures", {}).get("headline", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def report(outcome: Outcome, print_fn: Callable[[str], None]) -> None:
    where = outcome.figures or outcome.log
    took = f"{outcome.seconds:6.1f} s" if outcome.seconds else " " * 8
    print_fn(f"  {outcome.name:<14} {took}  {outcome.status}" + (f"  -> {_rel(where)}" if where else ""))
    if outcome.figures is not None:
        for label, value in headline(outcome.figures).items():
            print_fn(f"  {'':<14} {'':8}    {label}: {value}")


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None, print_fn: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the full settings (make bench FULL=1)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=None, help="folder for the figures (default: runs/bench/...)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and what they measure")
    args = parser.parse_args(argv)

    missing = unregistered()
    if missing:
        parser.error(f"not registered in benchmarks/run_all.py: {', '.join(missing)} (add each to BENCHMARKS)")
    names = [b.name for b in BENCHMARKS]
    for name in args.only or []:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            parser.error(f"unknown benchmark {name!r}; {hint}known: {', '.join(names)}")
    if args.list:
        for b in BENCHMARKS:
            note = f" (quick: skipped, {b.quick_skip})" if b.quick_skip else ""
            print_fn(f"{b.name:<14} {b.measures}{note}")
        return 0

    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    mode = "full" if args.full else "quick"
    out = args.out or ROOT / "runs" / "bench" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{mode}"
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    print_fn(f"make bench: {len(chosen)} benchmarks, {mode} settings, figures in {_rel(out)}/")
    if not args.full:
        print_fn("  (quick settings: a few seconds of samples each; not figures to quote. FULL=1 for those)")
    started = time.monotonic()
    outcomes = []
    for bench in chosen:
        limit = bench.full_limit_s if args.full else QUICK_LIMIT_S
        outcome = run_one(bench, args.full, out, limit)
        report(outcome, print_fn)
        outcomes.append(outcome)
    total = time.monotonic() - started
    summary = {
        "mode": mode, "seconds": round(total, 1), "load_average_1m": {"start": load0, "end": os.getloadavg()[0]},
        "benchmarks": [{"name": o.name, "status": o.status, "seconds": round(o.seconds, 1),
                        "figures": _rel(o.figures) if o.figures else None, "log": _rel(o.log) if o.log else None}
                       for o in outcomes],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    failed = [o.name for o in outcomes if o.failed]
    skipped = sum(o.status.startswith("skipped") for o in outcomes)
    print_fn(f"make bench: {len(outcomes) - len(failed) - skipped} ran, {skipped} skipped, {len(failed)} failed "
             f"in {total:.0f} s (load average {load0:.1f} -> {os.getloadavg()[0]:.1f}); "
             f"summary in {_rel(out / 'summary.json')}")
    if failed:
        print_fn(f"make bench: FAILED: {', '.join(failed)} (see their .log files)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
