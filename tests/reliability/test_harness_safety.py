"""The harness is safe to run: loopback only unless ``--allow-remote``, load capped, nothing left behind.

The CLI runs as a subprocess (the way an engineer runs it); ``--dry-run`` goes through the same
preparation as a run (targets, options, the address check) without starting anything. The
teardown on SIGINT, SIGTERM and an error after start is tests/scenarios/test_teardown.py; the
normal end of a run is here, with the same process and port watch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from ragchaos.scenarios.loader import parse_scenario
from ragchaos.scenarios.safety import remote_addresses
from tests.scenarios.procwatch import MARK, listening_ports, marked_pids
from tests.scenarios.test_teardown import _assert_nothing_left, _wait_for_line, tiny_scenario

BASE = tiny_scenario("safety", "4s")


def _cli(tmp_path: Path, *args: str, scenario: str = BASE, env: dict[str, str] | None = None,
         command: str = "run") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "s.yaml"
    path.write_text(scenario)
    full_env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "ragchaos", command, str(path), *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


def test_a_remote_fault_proxy_is_refused_without_allow_remote(tmp_path: Path) -> None:
    env = {"TOXIPROXY_URL": "http://10.20.30.40:8474"}
    r = _cli(tmp_path, "--dry-run", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "TOXIPROXY_URL=http://10.20.30.40:8474 is not a loopback address" in r.stderr
    assert "--allow-remote" in r.stderr and "Traceback" not in r.stderr
    ok = _cli(tmp_path, "--dry-run", "--allow-remote", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "this run reaches TOXIPROXY_URL=http://10.20.30.40:8474" in ok.stdout


def test_an_app_pointed_at_a_remote_provider_is_refused(tmp_path: Path) -> None:
    scenario = BASE + "app_env:\n  reference: {RAGCHAOS_PROVIDER_URL: 'https://api.openai.com/v1'}\n"
    r = _cli(tmp_path, "--dry-run", scenario=scenario)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "app_env.reference.RAGCHAOS_PROVIDER_URL=https://api.openai.com/v1 is not a loopback address" in r.stderr


@pytest.mark.parametrize(("scenario", "env", "address"), [
    (BASE, {"TOXIPROXY_URL": "http://10.20.30.40:8474"}, "TOXIPROXY_URL=http://10.20.30.40:8474"),
    (BASE + "app_env:\n  reference: {RAGCHAOS_PROVIDER_URL: 'https://api.openai.com/v1'}\n", {},
     "app_env.reference.RAGCHAOS_PROVIDER_URL=https://api.openai.com/v1"),
])
def test_up_refuses_a_remote_address_before_starting_anything(tmp_path: Path, scenario: str, env: dict[str, str],
                                                               address: str) -> None:
    # `up` keeps the stack and the web UI's users running until Ctrl-C: the same refusal as `run`,
    # given before any process is started (none carries the marker afterwards)
    mark = uuid.uuid4().hex
    path = tmp_path / "s.yaml"
    path.write_text(scenario)
    full_env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    full_env.update({**env, MARK: mark})
    r = subprocess.run([sys.executable, "-m", "ragchaos", "up", "--scenario", str(path), "--apps", "reference",
                        "--out", str(tmp_path / "runs"), "--web-port", "9"],
                       capture_output=True, text=True, env=full_env, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{address} is not a loopback address; pass --allow-remote" in r.stderr
    assert "Traceback" not in r.stderr and "ragchaos up:" not in r.stdout
    assert marked_pids(mark) == [] and not (tmp_path / "runs").exists()


def test_up_checks_its_apps_like_run(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    r = subprocess.run([sys.executable, "-m", "ragchaos", "up", "--scenario", str(path), "--apps", "nope",
                        "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--apps: unknown app 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_loopback_addresses_pass() -> None:
    scenario = parse_scenario(BASE + textwrap.dedent("""\
        app_env:
          reference: {RAGCHAOS_PROVIDER_URL: 'http://127.0.0.1:9/v1', RAGCHAOS_CHROMA_HOST: localhost,
                      REDIS_URL: 'redis://[::1]:6379/0', RAGCHAOS_DISABLE: cache}
        """))
    assert remote_addresses(scenario, {"TOXIPROXY_URL": "http://127.0.0.1:8474"}) == []
    remote = remote_addresses(scenario, {"TOXIPROXY_URL": "http://toxiproxy.internal:8474"})
    assert remote == ["TOXIPROXY_URL=http://toxiproxy.internal:8474"]
    far = parse_scenario(BASE + "app_env:\n  naive: {RAGCHAOS_CHROMA_HOST: 192.168.1.5}\n")
    assert remote_addresses(far, {}) == ["app_env.naive.RAGCHAOS_CHROMA_HOST=192.168.1.5"]


@pytest.mark.parametrize(("stage", "message"), [
    ("{duration: 2h, rate: 1}", "the stages last 7200s in total; a run is capped at 3600s"),
    ("{duration: 50m, rate: 5000}", "about 15000000 requests per app; a run is capped at 2000000"),
])
def test_load_is_capped_in_time_and_count(tmp_path: Path, stage: str, message: str) -> None:
    scenario = BASE.replace("{duration: 4s, rate: 2}", stage)
    r = _cli(tmp_path, scenario=scenario, command="validate")
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_run_that_ends_normally_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    env = {**os.environ, MARK: mark, "PYTHONUNBUFFERED": "1"}
    env.pop("TOXIPROXY_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragchaos", "run", str(path), "--apps", "reference", "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )
    try:
        _wait_for_line(proc, "ragchaos: load on", timeout=120)
        children = [p for p in marked_pids(mark) if p != proc.pid]
        ports = listening_ports(children)
        assert len(children) >= 4 and len(ports) >= 4, (children, ports)  # provider, chroma, proxy, app
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code in (0, 1), code  # 1: the gate failed, still a normal end
    _assert_nothing_left(mark, ports, proc.pid)
