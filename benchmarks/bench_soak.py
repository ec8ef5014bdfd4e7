"""Resident memory of the reference app over the ``soak`` scenario (10 minutes).

    .venv/bin/python benchmarks/bench_soak.py [--scenario soak] [--apps reference] [--every 5]

Runs ``ragchaos run <scenario>`` as a child process with an environment marker that every
process it starts inherits, finds the reference app among them (its command line is
``... reference serve ...``) and reads its ``VmRSS`` from ``/proc/<pid>/status`` every
``--every`` seconds until the run ends. Growth after warm-up compares the mean RSS of the last
minute with the RSS one minute into the load (after seeding, the scenario's warm-up and the
first faults-free traffic have filled the caches and pools). The target is under 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

MARK = "RAGCHAOS_TEST_MARK"


def _marked(mark: str) -> list[int]:
    needle = f"{MARK}={mark}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def rss_kib(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in KiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _find_app(mark: str, kind: str) -> int | None:
    for pid in _marked(mark):
        argv = _cmdline(pid)
        if kind in argv and "serve" in argv:
            return pid
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="soak")
    ap.add_argument("--apps", default="reference")
    ap.add_argument("--every", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds of load before the baseline sample")
    ap.add_argument("--out", default=None, help="run folder parent (default: a temporary directory)")
    ap.add_argument("--json", default=None, help="write the samples here")
    args = ap.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-soak-"))
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "PYTHONUNBUFFERED": "1"}
    log = open(out / "soak-run.log", "w")  # noqa: SIM115 - the child writes it for the whole run
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragchaos", "run", args.scenario, "--apps", args.apps, "--out", str(out / "runs")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    samples: list[tuple[float, int]] = []
    load_t0: float | None = None
    app_pid: int | None = None
    try:
        while proc.poll() is None:
            if load_t0 is None and "ragchaos: load on" in (out / "soak-run.log").read_text(errors="replace"):
                load_t0 = time.monotonic()
            if app_pid is None or rss_kib(app_pid) is None:
                app_pid = _find_app(mark, "reference")
            if load_t0 is not None and app_pid is not None:
                kib = rss_kib(app_pid)
                if kib is not None:
                    samples.append((time.monotonic() - load_t0, kib))
            time.sleep(args.every)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
    finally:
        code = proc.wait()
        log.close()
    if not samples:
        print(f"no samples (run exit code {code}); see {out / 'soak-run.log'}", file=sys.stderr)
        return 1
    end = samples[-1][0]
    base = next((kib for t, kib in samples if t >= args.warmup), samples[0][1])
    last = [kib for t, kib in samples if t >= end - 60] or [samples[-1][1]]
    first = samples[0][1]
    peak = max(kib for _, kib in samples)
    growth = statistics.fmean(last) / base - 1
    # the second half alone: a leak keeps growing there, a warm-up (caches filling, the
    # allocator's high-water mark after the first fault's error burst) does not
    mid = next((kib for t, kib in samples if t >= end / 2), base)
    report = {
        "scenario": args.scenario, "exit_code": code, "samples": len(samples), "load_s": round(end, 1),
        "rss_first_mib": round(first / 1024, 1), "rss_after_warmup_mib": round(base / 1024, 1),
        "rss_last_minute_mib": round(statistics.fmean(last) / 1024, 1), "rss_peak_mib": round(peak / 1024, 1),
        "growth_after_warmup_pct": round(100 * growth, 2),
        "growth_second_half_pct": round(100 * (statistics.fmean(last) / mid - 1), 2), "run_folder": str(out / "runs"),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({**report, "series": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
