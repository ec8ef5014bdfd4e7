"""The gate's decision rule simulated over histograms recorded from real runs of the ci scenario.

For each gated metric (default: the gate's DEFAULT_METRICS), the recorded histograms of both
apps of each given run folder (same-run A/B or A/A runs) are pooled into one distribution per
run. One trial draws a baseline and a candidate sample from it (multinomial over the buckets,
as many samples as the run recorded per side), optionally multiplies the candidate's values of
one metric by ``--shift``, and applies the gate's own decision (``checks.regression.decide``:
order-statistic intervals, one-sided test, Holm over the metrics at ``--alpha``). Reported:
the share of trials in which the whole gate failed (false alarms when nothing is shifted;
detection when one metric is), with a 95% Wilson interval, and the median resolution.

The draws are independent, so this measures the statistics' calibration and power at the
recorded sample sizes and shapes, not run-to-run effects (the real A/A and A/B gate runs in
BENCHMARKS.md measure those).

    .venv/bin/python benchmarks/bench_gate_stats.py RUN_DIR... --trials 20000
    .venv/bin/python benchmarks/bench_gate_stats.py RUN_DIR... --trials 2000 --shift 1.2 --metric response.query.p99
    .venv/bin/python benchmarks/bench_gate_stats.py RUN_DIR... --quick --json stats.json   # 2,000 trials

It needs run folders of the ci scenario with a baseline app (bench_gate_runs.py records them),
so make bench runs it only with FULL=1, after bench_gate_runs, on the folders that recorded.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import figures
import numpy as np

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.checks.grammar import parse_check
from ragchaos.reports.checks.measure import measure
from ragchaos.reports.checks.regression import RegressionPolicy, decide
from ragchaos.reports.gate import DEFAULT_METRICS
from ragchaos.reports.results import load_results
from ragchaos.reports.stats import Sample, compare_quantiles, min_samples


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def recorded(run_dir: Path, metrics: list[str], apps: tuple[str, str]) -> dict[str, tuple[Sample, int, int]]:
    """Per metric: the pooled histogram of both apps, and each side's sample count."""
    result = load_results(run_dir)
    out = {}
    for metric in metrics:
        check = parse_check(f"{apps[0]}.{metric} <= 1x baseline")
        hists, counts = Histogram(), []
        for app in apps:
            summary = measure(result, app, check.phase, check.metric).summary
            if summary is None or not summary.count or not summary.hdr:
                counts.append(0)
                continue
            h = Histogram.decode(summary.hdr)
            hists.add(h)
            counts.append(h.count)
        if min(counts) >= min_samples(check.percentile or 0.99):
            out[metric] = (Sample.of(hists), counts[1], counts[0])
    return out


def draw(rng: np.random.Generator, pooled: Sample, n: int) -> Sample:
    return pooled.resample(rng, n)


def simulate(runs: list[dict[str, tuple[Sample, int, int]]], trials: int, shift: float, shifted: str | None,
             policy: RegressionPolicy, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    failures, resolutions = 0, {m: [] for m in runs[0]}
    t = time.perf_counter()
    for i in range(trials):
        run = runs[i % len(runs)]
        diffs, tols, names = [], [], []
        for metric, (pooled, n_base, n_cand) in run.items():
            base = draw(rng, pooled, n_base)
            cand = draw(rng, pooled, n_cand)
            if metric == shifted:
                cand = cand.scaled(shift)
            diffs.append(compare_quantiles(base, cand, 0.99))
            tols.append(0.0)
            names.append(metric)
        decisions = decide(diffs, tols, policy)
        failures += any(reject for reject, _, _ in decisions)
        for name, (_, _, res) in zip(names, decisions, strict=True):
            resolutions.setdefault(name, []).append(res)
    low, high = wilson(failures, trials)
    return {
        "trials": trials, "gate_failed": failures, "rate": failures / trials, "wilson95": [low, high],
        "shift": shift if shifted else 1.0, "shifted_metric": shifted,
        "median_resolution": {m: float(np.median(v)) for m, v in resolutions.items() if v},
        "seconds": round(time.perf_counter() - t, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of the ci scenario (with a baseline app)")
    ap.add_argument("--trials", type=int, default=20_000)
    ap.add_argument("--shift", type=float, default=1.2, help="the candidate's factor on --metric")
    ap.add_argument("--metric", action="append", help="the metric shifted (repeat for one simulation each)")
    ap.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="the gated metrics")
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--apps", default="reference,baseline")
    ap.add_argument("--seed", type=int, default=20261206)
    args = figures.parse(ap, {"trials": 2000})
    metrics = [m for m in args.metrics.split(",") if m]
    apps = tuple(args.apps.split(","))
    runs = [recorded(d, metrics, apps) for d in args.runs]
    common = set.intersection(*(set(r) for r in runs))
    runs = [{m: r[m] for m in metrics if m in common} for r in runs]
    if not common:
        print("no metric has enough samples in every run", file=sys.stderr)
        return 2
    policy = RegressionPolicy(alpha=args.alpha)
    print(f"runs: {len(runs)}; gated metrics with enough samples: {', '.join(runs[0])}")
    for d, r in zip(args.runs, runs, strict=True):
        print(f"  {d.name}: " + ", ".join(f"{m} n={nb}/{nc}" for m, (_, nb, nc) in r.items()))
    out = [simulate(runs, args.trials, 1.0, None, policy, args.seed)]
    for metric in args.metric or []:
        out.append(simulate(runs, args.trials, args.shift, metric, policy, args.seed + 1))
    for res in out:
        what = "unchanged" if not res["shifted_metric"] else f"{res['shifted_metric']} x{res['shift']}"
        low, high = res["wilson95"]
        print(f"{what}: gate failed in {res['gate_failed']} of {res['trials']} trials = {res['rate']:.2%} "
              f"[{low:.2%}, {high:.2%}] ({res['seconds']} s); median resolution "
              + ", ".join(f"{m} +{v * 100:.0f}%" for m, v in res["median_resolution"].items()))
    headline = {("false alarms, unchanged" if not r["shifted_metric"] else f"detected, {r['shifted_metric']} x{r['shift']}"):
                f"{r['rate']:.2%} of {r['trials']} trials" for r in out}
    figures.write(args, {"simulations": out, "runs": [str(d) for d in args.runs], "headline": headline})
    return 0


if __name__ == "__main__":
    sys.exit(main())
