"""``ragchaos run SCENARIO --live``: the page follows a scenario run, then links its report.

The smoke scenario with the page open (over HTTP, as the browser reads it): frames come from
the run, its phases appear as the run's phase clock names them, its provider 429 burst is a
band while the timeline has it applied, the controls are refused (the scenario drives), and
when the run folder is complete the page links the report, which it serves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from ragchaos.core.ports import free_port
from tests.scenarios.procwatch import MARK, listening, marked_pids

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_run_live_shows_phases_fault_bands_and_links_the_report(tmp_path: Path) -> None:
    port, mark = free_port(), uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ragchaos", "run", "smoke", "--live", "--web-port", str(port),
                                 "--live-keep", "6", "--out", str(tmp_path / "runs")],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, MARK: mark})
    phases: set[str] = set()
    bands: dict[str, dict] = {}
    refused = None
    report = None
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                status, body = _get(f"{base}/api/state")
            except OSError:
                continue  # not serving yet, or already gone
            state = json.loads(body)
            phases.update(f["phase"] for f in state["frames"] if f["phase"])
            bands.update({b["id"]: b for b in state["bands"]})
            if state["frames"] and refused is None:
                req = urllib.request.Request(f"{base}/api/faults", data=b'{"preset": "provider_429_storm"}',
                                             method="POST", headers={"Content-Type": "application/json",
                                                                     "X-Ragchaos-Live": "1"})
                try:
                    urllib.request.urlopen(req, timeout=5)
                    refused = (200, "")
                except urllib.error.HTTPError as exc:
                    refused = (exc.code, json.loads(exc.read())["error"])
            if state["report"] and report is None:
                report = _get(base + state["report"])
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert proc.returncode in (0, 1), text[-3000:]  # 1: the gate failed, which a smoke run may
    assert {"steady", "fault", "recovery"} <= phases, (phases, text[-2000:])
    scenario_bands = [b for b in bands.values() if b["source"] == "scenario"]
    assert {b["targets"][0] for b in scenario_bands} == {"naive", "reference"}, bands
    assert all(b["preset"] == "smoke-429s" and b["end"] is not None and b["end"] > b["start"] for b in scenario_bands)
    assert refused is not None and refused[0] == 400 and "controls are off" in refused[1]
    assert report is not None and report[0] == 200 and b"<html" in report[1][:2000].lower()
    assert marked_pids(mark) == [] and listening({port}) == set()
