"""What freezing the startup heap buys: the collector's full passes with the freeze on and off.

One run, ``ragchaos run VARIANT --ablate gc_freeze``: the reference app beside a copy with
``RAGCHAOS_DISABLE=gc_freeze``, one schedule, the same faults. VARIANT is the ci scenario with
more cache misses (200 documents per tenant, 8,000 questions, Zipf 0.2: about three in four
queries miss, so the caches grow and every miss allocates), where the pauses were found; its
faults are the ci scenario's. Per app, from its own ``ragchaos_gc_full_pass_seconds`` (the
warm-up excluded): full passes, their mean, how many took over 100 ms, pause time per minute,
and the end-to-end query p99.

    .venv/bin/python benchmarks/bench_gc_freeze.py --out /tmp/gc-freeze
    .venv/bin/python benchmarks/bench_gc_freeze.py --quick --json gc.json   # 30 s of load
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import figures
import yaml

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.analysis import ALL
from ragchaos.reports.analysis import figures as app_figures
from ragchaos.reports.checks.grammar import parse_check
from ragchaos.reports.checks.measure import measure
from ragchaos.reports.results import load_results

REPO = Path(__file__).resolve().parents[1]
CI = REPO / "ragchaos/scenarios/builtin/ci.yaml"
FULL, OFF = "reference", "reference_no_gc_freeze"
PASS = "ragchaos_gc_full_pass_seconds"


def miss_heavy(out: Path, load_s: float) -> Path:
    data = yaml.safe_load(CI.read_text())
    data["name"] = "ci-misses"
    data["corpus"]["documents_per_tenant"] = 200
    data["workload"].update(questions=8000, zipf_s=0.2)
    data["warmup"] = f"{min(25.0, load_s / 3):g}s"  # the ci scenario's 25 s; a third of a short run
    data["load"]["stages"] = [{"duration": f"{load_s:g}s", "rate": data["load"]["stages"][0]["rate"]}]
    data["faults"] = [f for f in data["faults"] if float(str(f["at"]).rstrip("s")) < load_s]
    path = out / "ci-misses.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def passes(run_dir: Path, app: str) -> dict[str, float | None]:
    result = load_results(run_dir)
    f = app_figures(result, app, ALL)
    counters = f.counters
    count = counters.total(f"{PASS}_count") if counters else None
    seconds = counters.total(f"{PASS}_sum") if counters else None
    under = counters.total(f"{PASS}_bucket", le="0.1") if counters else None
    summary = measure(result, app, "all", parse_check(f"{app}.response.query.p99 <= 1s").metric).summary
    p99 = Histogram.decode(summary.hdr).percentile_us(99) / 1000 if summary and summary.hdr else None
    return {
        "full_passes": count,
        "mean_ms": seconds * 1000 / count if count and seconds is not None else None,
        "over_100ms": count - under if count is not None and under is not None else None,
        "pause_ms_per_minute": seconds * 1000 * 60 / f.duration_s if seconds is not None and f.duration_s else None,
        "query_p99_ms": p99,
        "seconds": f.duration_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load-s", type=float, default=120.0, help="seconds of load (the ci scenario's 120)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/gc-freeze"))
    args = figures.parse(ap, {"load_s": 30.0})
    args.out.mkdir(parents=True, exist_ok=True)
    scenario = miss_heavy(args.out, args.load_s)
    proc = subprocess.run([str(REPO / ".venv/bin/ragchaos"), "run", str(scenario), "--ablate", "gc_freeze",
                           "--out", str(args.out / "runs")], cwd=REPO, capture_output=True, text=True, timeout=900)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("ragchaos: run folder ")), None)
    if line is None:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
        return 1
    run_dir = Path(line.removeprefix("ragchaos: run folder ").strip())
    if not run_dir.is_absolute():
        run_dir = REPO / run_dir
    apps = {app: passes(run_dir, app) for app in (FULL, OFF)}
    for app, p in apps.items():
        print(f"{app}: " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in p.items()))
    figures.write(args, {"run": str(run_dir), "apps": apps, "headline": {
        f"full passes over 100 ms, frozen / unfrozen ({apps[FULL]['seconds']:.0f} s)":
            f"{apps[FULL]['over_100ms']} / {apps[OFF]['over_100ms']}",
        "mean full pass, frozen / unfrozen": " / ".join(
            f"{a['mean_ms']:.0f} ms" if a["mean_ms"] is not None else "none" for a in apps.values())}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
