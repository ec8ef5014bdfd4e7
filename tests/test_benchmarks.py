"""``make bench`` (benchmarks/run_all.py): every benchmark is registered and takes ``--quick``;
the runner reports what ran, what was skipped and why, what failed, and stops what overran.

The runner's own behaviour is tested with small stand-in scripts in a temporary folder (an
exit code, a missing figure file, a sleeper that must be stopped with its children); one real
benchmark (the proxy's, a few seconds) runs end to end. No figure is judged here: timing
claims live in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


run_all = _load("run_all")
figures = _load("figures")


def test_every_benchmark_script_is_registered() -> None:
    assert run_all.unregistered() == []
    assert {b.script.name for b in run_all.BENCHMARKS} == {p.name for p in BENCH.glob("bench_*.py")}


def test_a_script_nobody_registered_is_found(tmp_path: Path) -> None:
    (tmp_path / "bench_new.py").write_text("")
    known = [run_all.Benchmark("old", "x", folder=tmp_path)]
    (tmp_path / "bench_old.py").write_text("")
    assert run_all.unregistered(tmp_path, known) == ["bench_new.py"]


def test_quick_skips_only_what_takes_a_fixed_long_time_or_needs_recorded_runs_and_says_why() -> None:
    skipped = {b.name: b.quick_skip for b in run_all.BENCHMARKS if b.quick_skip}
    assert set(skipped) == {"soak", "gate_runs", "gate_stats"}
    assert "ten minutes" in skipped["soak"] and "whole gate" in skipped["gate_runs"]
    assert "gate_runs" in skipped["gate_stats"]


def test_full_settings_name_the_output_folder_and_what_an_earlier_benchmark_recorded(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / "gate-runs" / "runs" / name).mkdir(parents=True)
    assert run_all.expand(["--out", "{out}/gate-runs", "glob:{out}/gate-runs/runs/*/", "-x"], tmp_path) == [
        "--out", f"{tmp_path}/gate-runs", f"{tmp_path}/gate-runs/runs/a/", f"{tmp_path}/gate-runs/runs/b/", "-x"]
    reader = run_all.Benchmark("reader", "reads", needs="writer", folder=tmp_path)
    outcome = run_all.run_one(reader, True, tmp_path, 60.0)
    assert outcome.failed and "needs the output of writer" in outcome.status


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("bench_*.py")))
def test_every_benchmark_takes_the_quick_setting_and_a_figure_file(name: str) -> None:
    out = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    options = re.findall(r"^\s+(--[a-z-]+)", out.stdout, re.M)  # the option list, not the usage text
    assert "--quick" in options and "--json" in options


# -- figures.py: the options every benchmark shares ---------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    return p


def test_quick_replaces_the_defaults_and_an_explicit_option_still_wins() -> None:
    quick = {"duration": 1.0, "rounds": 1}
    plain = figures.parse(_parser(), quick, [])
    assert (plain.duration, plain.rounds, plain.quick) == (10.0, 3, False)
    fast = figures.parse(_parser(), quick, ["--quick"])
    assert (fast.duration, fast.rounds, fast.quick) == (1.0, 1, True)
    mixed = figures.parse(_parser(), quick, ["--quick", "--rounds", "2"])
    assert (mixed.duration, mixed.rounds) == (1.0, 2)


def test_a_quick_setting_for_an_option_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="does not have: durration"):
        figures.parse(_parser(), {"durration": 1.0}, ["--quick"])


def test_the_figure_file_says_how_and_when_it_was_measured(tmp_path: Path) -> None:
    args = figures.parse(_parser(), {"duration": 1.0}, ["--quick", "--json", str(tmp_path / "f.json")])
    assert figures.write(args, {"rps": 5, "headline": {"rps": "5"}}) == tmp_path / "f.json"
    record = json.loads((tmp_path / "f.json").read_text())
    assert record["quick"] is True and record["figures"]["rps"] == 5
    assert len(record["load_average"]["start"]) == 3 and record["started_utc"].endswith("Z")
    assert figures.write(figures.parse(_parser(), {}, []), {"rps": 5}) is None  # no --json: no file


# -- run_all.py: the runner -----------------------------------------------------------------------

def _script(folder: Path, name: str, body: str) -> None:
    (folder / f"bench_{name}.py").write_text(textwrap.dedent(f"""\
        import json, os, sys, time
        out = sys.argv[sys.argv.index("--json") + 1]
        quick = "--quick" in sys.argv
        {body}
        """))


def test_the_runner_reports_each_outcome_and_where_the_figures_went(tmp_path: Path) -> None:
    _script(tmp_path, "good", 'json.dump({"figures": {"quick": quick, "headline": {"speed": "fast"}}}, open(out, "w"))')
    _script(tmp_path, "broken", "sys.exit(3)")
    _script(tmp_path, "silent", "pass")
    benches = [run_all.Benchmark(n, n, folder=tmp_path) for n in ("good", "broken", "silent")]
    benches.append(run_all.Benchmark("long", "long", quick_skip="fixed length", folder=tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    outcomes = {b.name: run_all.run_one(b, False, out, 60.0) for b in benches}
    assert outcomes["good"].status == "ok" and outcomes["good"].figures == out / "good.json"
    assert json.loads((out / "good.json").read_text())["figures"]["quick"] is True  # quick mode passes --quick
    assert outcomes["broken"].status == "failed (exit 3)" and outcomes["broken"].failed
    assert outcomes["silent"].status.startswith("failed") and "no figure file" in outcomes["silent"].status
    assert outcomes["long"].status.startswith("skipped: fixed length") and not outcomes["long"].failed
    lines: list[str] = []
    for o in outcomes.values():
        run_all.report(o, lines.append)
    text = "\n".join(lines)
    assert "good.json" in text and "speed: fast" in text and "broken.log" in text


def test_a_benchmark_past_its_time_limit_is_stopped_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    _script(tmp_path, "sleeper", f"""
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(120)""")
    bench = run_all.Benchmark("sleeper", "sleeps", folder=tmp_path)
    started = time.monotonic()
    outcome = run_all.run_one(bench, False, tmp_path, 3.0)
    assert outcome.status == "timed out after 3 s" and outcome.failed
    assert time.monotonic() - started < 60
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the benchmark's own child process outlived the time limit"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether it exists
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"  # a zombie has exited; its parent (killed too) did not reap it


def test_an_unknown_benchmark_name_is_refused_with_the_closest_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_all.main(["--only", "proxi"])
    assert exc.value.code == 2
    assert "did you mean 'proxy'" in capsys.readouterr().err


@pytest.mark.slow
def test_make_bench_runs_a_real_benchmark_end_to_end(tmp_path: Path) -> None:
    lines: list[str] = []
    code = run_all.main(["--only", "proxy", "--out", str(tmp_path)], print_fn=lines.append)
    assert code == 0, "\n".join(lines) + (tmp_path / "proxy.log").read_text()[-3000:]
    record = json.loads((tmp_path / "proxy.json").read_text())
    assert record["quick"] is True and record["figures"]["latency"]["proxied_p50_us"] > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [b["status"] for b in summary["benchmarks"]] == ["ok"]
    assert any("proxy.json" in line for line in lines)
