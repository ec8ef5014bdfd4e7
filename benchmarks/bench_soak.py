"""Resident memory of the reference app over the ``soak`` scenario (10 minutes).

    .venv/bin/python benchmarks/bench_soak.py [--scenario soak] [--apps reference] [--every 5]
    .venv/bin/python benchmarks/bench_soak.py --scenario benchmarks/soak_repeat.yaml   # 20 min, faults twice
    .venv/bin/python benchmarks/bench_soak.py --probe   # + what grows inside the app (soak_probe/)
    .venv/bin/python benchmarks/bench_soak.py --quick   # ragchaos run soak --quick: a shorter, scaled run

The soak takes a fixed long time, so ``make bench`` lists it and skips it; ``make bench FULL=1``
runs it with the default settings.

Runs ``ragchaos run <scenario>`` as a child process with an environment marker that every
process it starts inherits, finds the reference app among them (its command line is
``... reference serve ...``) and reads ``VmRSS``, ``RssAnon`` (heap: what the app allocated)
and ``RssFile`` (pages of its code and libraries, mapped in as code paths first run) from
``/proc/<pid>/status`` every ``--every`` seconds until the run ends.

What "after warm-up" means here, and why: the baseline is the RSS ``--warmup`` (60 s) into
the load, after seeding, the scenario's 10 s warm-up and the first 50 s of traffic have run
every code path once (imports, pools, the first batch of each kind). It is *not* the point
where the app's bounded state is full: the response and retrieval caches fill for their TTL
(300 s) and the semantic cache for its TTL (600 s), the embedding cache has no TTL (it grows
with the distinct texts, up to 20,000 vectors); so the growth after 60 s includes caches
filling by design, and it is reported as measured, with what else helps read it:

- ``growth_after_ttl_pct``: from the RSS at 300 s (the response/retrieval TTL: from then on
  their expiries balance their inserts), the state that is still filling is the semantic and
  embedding caches;
- per minute: mean RSS, RssAnon, RssFile, and the minutes where RSS stepped up by more than
  1% with the fault windows (from ``results.json``) they overlap: a leak grows with traffic,
  a step at a fault window is the burst's high-water mark, which a second identical window
  (``soak_repeat.yaml``) raises again only if it leaks.
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

import figures

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


_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def rss_kib(pid: int) -> tuple[int, int, int] | None:
    """``VmRSS``, ``RssAnon``, ``RssFile`` of ``pid`` in KiB (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    values = {line.split(":")[0]: int(line.split()[1]) for line in status if line.split(":")[0] in _FIELDS}
    if len(values) < len(_FIELDS):
        return None
    return values["VmRSS"], values["RssAnon"], values["RssFile"]


def _faults(runs: Path) -> list[dict]:
    """The fault windows the run applied (from its results.json), if it wrote one."""
    for path in sorted(runs.glob("*/results.json")):
        try:
            return [f for f in json.loads(path.read_text()).get("faults", []) if f.get("applied_at_s") is not None]
        except (OSError, ValueError):
            continue
    return []


def per_minute(samples: list[tuple[float, int, int, int]]) -> list[dict]:
    """Mean VmRSS / RssAnon / RssFile (MiB) of each minute of load."""
    rows = []
    for m in range(int(samples[-1][0] // 60) + 1):
        xs = [s for s in samples if m * 60 <= s[0] < (m + 1) * 60]
        if xs:
            rows.append({"minute": m, "rss_mib": round(statistics.fmean(s[1] for s in xs) / 1024, 1),
                         "anon_mib": round(statistics.fmean(s[2] for s in xs) / 1024, 1),
                         "file_mib": round(statistics.fmean(s[3] for s in xs) / 1024, 1)})
    return rows


def steps(minutes: list[dict], faults: list[dict], threshold: float = 0.01) -> list[dict]:
    """Minutes whose mean RSS rose more than ``threshold`` over the minute before, with the
    fault windows that overlap that minute or the one before."""
    out = []
    for prev, cur in zip(minutes, minutes[1:], strict=False):
        if cur["rss_mib"] > prev["rss_mib"] * (1 + threshold):
            lo, hi = prev["minute"] * 60, (cur["minute"] + 1) * 60
            near = [f["name"] for f in faults if f["applied_at_s"] < hi and (f.get("reverted_at_s") or hi) > lo]
            out.append({"minute": cur["minute"], "rise_mib": round(cur["rss_mib"] - prev["rss_mib"], 1),
                        "faults": near})
    return out


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
    ap.add_argument("--probe", action="store_true",
                    help="load benchmarks/soak_probe into the reference app: tracemalloc snapshots, objects by "
                         "type and cache sizes every 30 s into <out>/probe/ (slows the app; not for the figures)")
    ap.add_argument("--trim", type=float, default=None, metavar="SECONDS",
                    help="a diagnostic: the reference app calls glibc's malloc_trim(0) every SECONDS (soak_probe/): "
                         "the growth that remains is memory in use, not free memory the allocator kept")
    args = figures.parse(ap, {"warmup": 30.0})

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-soak-"))
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "PYTHONUNBUFFERED": "1"}
    if args.probe or args.trim:
        probe = str(Path(__file__).resolve().parent / "soak_probe")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (probe, env.get("PYTHONPATH")) if p)
    if args.probe:
        (out / "probe").mkdir(parents=True, exist_ok=True)
        env["RAGCHAOS_PROBE_DIR"] = str(out / "probe")
    if args.trim:
        env["RAGCHAOS_PROBE_TRIM"] = str(args.trim)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "soak-run.log", "w")  # noqa: SIM115 - the child writes it for the whole run
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragchaos", "run", args.scenario, "--apps", args.apps, "--out", str(out / "runs"),
         *(["--quick"] if args.quick else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    samples: list[tuple[float, int, int, int]] = []
    loadavg: list[float] = []  # the machine's 1-minute load average at each sample (it is shared)
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
                    samples.append((time.monotonic() - load_t0, *kib))
                    loadavg.append(float(Path("/proc/loadavg").read_text().split()[0]))
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

    def at(t: float) -> tuple[float, int, int, int]:
        return next((x for x in samples if x[0] >= t), samples[-1])

    last = [x for x in samples if x[0] >= end - 60] or [samples[-1]]
    last_rss, last_anon = statistics.fmean(x[1] for x in last), statistics.fmean(x[2] for x in last)
    base, ttl, mid = at(args.warmup), at(300.0), at(end / 2)
    minutes = per_minute(samples)
    report = {
        "scenario": args.scenario, "trim_every_s": args.trim, "probe": args.probe, "exit_code": code, "samples": len(samples), "load_s": round(end, 1),
        "rss_first_mib": round(samples[0][1] / 1024, 1), "rss_after_warmup_mib": round(base[1] / 1024, 1),
        "rss_at_300s_mib": round(ttl[1] / 1024, 1),
        "rss_last_minute_mib": round(last_rss / 1024, 1), "rss_peak_mib": round(max(x[1] for x in samples) / 1024, 1),
        "growth_after_warmup_pct": round(100 * (last_rss / base[1] - 1), 2),
        "anon_growth_after_warmup_mib": round((last_anon - base[2]) / 1024, 1),
        "file_growth_after_warmup_mib": round((statistics.fmean(x[3] for x in last) - base[3]) / 1024, 1),
        "growth_after_ttl_pct": round(100 * (last_rss / ttl[1] - 1), 2) if end > 360 else None,
        "growth_second_half_pct": round(100 * (last_rss / mid[1] - 1), 2),
        "per_minute": minutes, "steps": steps(minutes, _faults(out / "runs")),
        "load_average_1m": {"min": min(loadavg), "mean": round(statistics.fmean(loadavg), 2), "max": max(loadavg)},
        "run_folder": str(out / "runs"),
    }
    print(json.dumps(report, indent=2))
    report["headline"] = {"resident memory growth after the warm-up": f"{report['growth_after_warmup_pct']:+.1f}%"}
    figures.write(args, {**report, "series": samples})
    return 0


if __name__ == "__main__":
    sys.exit(main())
