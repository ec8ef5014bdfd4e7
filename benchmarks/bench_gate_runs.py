"""Real gate runs on this machine: A/A (the same build on both sides) and A/B (the candidate
made slower for real), each a full ``ragchaos gate --baseline-ref HEAD`` of the ci scenario.

A/B: the candidate's link to the provider gets a Toxiproxy ``latency`` toxic for the whole run
(``--toxic-ms`` per response), added as one more fault step of a copy of the ci scenario aimed
at the app ``reference`` only; the apps' code is unchanged. The realized p99 change is printed
from the run's own verdict (the ratio and its interval), so the size of the injected regression
is measured, not assumed.

Per run: exit status, wall time, the load average at the start, and each baseline verdict.
One JSON line per run goes to ``--log``.

    .venv/bin/python benchmarks/bench_gate_runs.py --aa 10 --ab 10 --toxic-ms 50 --out /tmp/gate-runs
    .venv/bin/python benchmarks/bench_gate_runs.py --out /tmp/gate-runs --rejudge   # the table
    .venv/bin/python benchmarks/bench_gate_runs.py --quick --json gate-runs.json   # one A/A, one A/B

Each run is a whole gate of the ci scenario (minutes), so make bench lists it and skips it;
make bench FULL=1 runs it with the settings above.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import figures
import yaml

REPO = Path(__file__).resolve().parents[1]
CI = REPO / "ragchaos/scenarios/builtin/ci.yaml"


def slower_scenario(out: Path, toxic_ms: int) -> Path:
    data = yaml.safe_load(CI.read_text())
    data["name"] = "ci-slower"
    total = sum(float(str(s["duration"]).rstrip("s")) for s in data["load"]["stages"])
    data["faults"].append({"name": "candidate-slower", "at": "0s", "duration": f"{total:g}s", "app": "reference",
                           "dependency": "provider", "fault": {"kind": "latency", "latency_ms": toxic_ms}})
    path = out / f"ci-slower-{toxic_ms}ms.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def one(kind: str, scenario: str, out: Path) -> dict:
    load = Path("/proc/loadavg").read_text().split()[:3]
    t = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv/bin/ragchaos"), "gate", "--baseline-ref", "HEAD", "--scenario", scenario,
                           "--out", str(out / "runs")], cwd=REPO, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t
    run_dir = next((line.split("files ", 1)[1].split("/gate.json")[0] for line in proc.stdout.splitlines()
                    if line.startswith("ragchaos gate: files ")), None)
    verdicts = []
    if run_dir:
        doc = json.loads((Path(run_dir) / "gate.json").read_text())
        verdicts = [{k: c.get(k) for k in ("name", "status", "ratio", "low", "high", "p_value", "resolution", "n",
                                            "n_baseline")} for c in doc["checks"] if c.get("n_baseline")]
    return {"kind": kind, "exit": proc.returncode, "wall_s": round(wall, 1), "loadavg": load, "run": run_dir,
            "verdicts": verdicts, "tail": proc.stdout.splitlines()[-1:] + proc.stderr.splitlines()[-3:]}


def rejudge(log: Path, out: Path) -> None:
    """Judge every logged run again with this tree's gate (``ragchaos gate RUN_DIR``: the verdict
    is recomputed from results.json) and print one Markdown row per run."""
    print("| # | kind | load avg (1 min) | wall | exit (live) | exit (now) | response.query p99 | query.total p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for i, line in enumerate(log.read_text().splitlines(), 1):
        row = json.loads(line)
        if not row["run"]:
            print(f"| {i} | {row['kind']} | {row['loadavg'][0]} | {row['wall_s']:.0f} s | {row['exit']} | - | - | - |")
            continue
        gate_out = out / "rejudged" / Path(row["run"]).name
        proc = subprocess.run([str(REPO / ".venv/bin/ragchaos"), "gate", row["run"], "--gate-out", str(gate_out)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        doc = json.loads((gate_out / "gate.json").read_text())
        cells = []
        for metric in ("response.query.p99", "query.total.p99"):
            c = next((c for c in doc["checks"] if c.get("metric") == metric and c.get("n_baseline")), None)
            if c is None or c.get("ratio") is None:
                cells.append(c["status"] if c else "-")
                continue
            cells.append(f"{c['status']} {(c['ratio'] - 1) * 100:+.0f}% [{(c['low'] - 1) * 100:+.0f}%, "
                         f"{(c['high'] - 1) * 100:+.0f}%], res. {c['resolution'] * 100:+.0f}%")
        print(f"| {i} | {row['kind']} | {row['loadavg'][0]} | {row['wall_s']:.0f} s | {row['exit']} | "
              f"{proc.returncode} | {cells[0]} | {cells[1]} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aa", type=int, default=10)
    ap.add_argument("--ab", type=int, default=10)
    ap.add_argument("--toxic-ms", type=int, default=50)
    ap.add_argument("--out", type=Path, default=Path("/tmp/gate-runs"))
    ap.add_argument("--log", type=Path, default=None)
    ap.add_argument("--rejudge", action="store_true", help="judge the logged runs again; print a table")
    args = figures.parse(ap, {"aa": 1, "ab": 1})
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.log or args.out / "runs.jsonl"
    if args.rejudge:
        rejudge(log, args.out)
        return 0
    slower = slower_scenario(args.out, args.toxic_ms)
    plan = [("A/A", "ci")] * args.aa + [(f"A/B +{args.toxic_ms}ms", str(slower))] * args.ab
    rows = []
    for kind, scenario in plan:
        row = one(kind, scenario, args.out)
        rows.append(row)
        with log.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        v = {x["name"].split(" vs ")[0]: f"{x['status']} {((x['ratio'] or 1) - 1) * 100:+.0f}%" for x in row["verdicts"]}
        print(f"{kind}: exit {row['exit']} in {row['wall_s']} s (load {' '.join(row['loadavg'])}) {v}", flush=True)
    aa = [r for r in rows if r["kind"] == "A/A"]
    ab = [r for r in rows if r["kind"] != "A/A"]
    figures.write(args, {"runs": rows, "log": str(log), "headline": {
        "A/A gates passed (exit 0)": f"{sum(r['exit'] == 0 for r in aa)} of {len(aa)}",
        f"A/B +{args.toxic_ms} ms gates failed (exit 1)": f"{sum(r['exit'] == 1 for r in ab)} of {len(ab)}"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
