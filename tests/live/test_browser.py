"""The acceptance test of the live view: ``ragchaos up`` in a real headless Chromium.

One ``ragchaos up`` for the module (the stack takes a while to start on a busy machine):
1. another page on loopback (another port: same site, not same origin) and a DNS-rebinding
   name both try to press a fault; nothing is applied;
2. the presenter presses "429 storm": within 10 s the naive app's error line rises (at least
   20% of its requests fail) while the reference app's stays under 1%; "Clear all faults"
   and the naive app recovers (under 5% errors over 5 s, within 90 s: it has a queue to
   drain) while the reference stays under 1%. Screenshots at each step.
The fault is strong with a wide margin on purpose (80% of chat calls answered 429): the SDK's
three attempts fail half the time at that rate, the reference app's four attempts and its
retrieval-only fallback none, so the thresholds hold on a busy machine, not by luck.
When ``up`` gets SIGTERM every process it started is gone (the stack, and the page's server).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragchaos.core.ports import free_port
from tests.live.browser import VIEWPORT, chromium, screenshot_dir
from tests.scenarios.procwatch import MARK, listening, marked_pids

pytestmark = pytest.mark.slow

# requests per second per app: ~35 requests per app in the 10 s the test watches. Not more: at
# 6/s on this machine the naive app, once a storm has queued work in it, does not recover at all
# (it goes on working for clients that timed out: 291 timeouts of 353 requests in the 90 s after
# the clear, measured 2026-12-06), which is a lesson for the room but not a test of the page
RATE = 4


class Up:
    def __init__(self, proc: subprocess.Popen[str], port: int, mark: str, log: Path) -> None:
        self.proc, self.port, self.mark, self.log = proc, port, mark, log
        self.url = f"http://127.0.0.1:{port}/"

    def state(self) -> dict:
        with urllib.request.urlopen(self.url + "api/state", timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("live-up")
    port, mark = free_port(), uuid.uuid4().hex
    log = tmp / "up.log"
    env = {**os.environ, MARK: mark, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ragchaos", "up", "--rate", str(RATE), "--web-port", str(port),
                                 "--out", str(tmp / "runs")], stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    handle = Up(proc, port, mark, log)
    try:
        deadline = time.monotonic() + 180
        while "(load, faults, notes" not in log.read_text():
            assert proc.poll() is None, f"ragchaos up exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"ragchaos up not ready in 180 s:\n{log.read_text()}"
            time.sleep(0.5)
        yield handle
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.returncode == 0, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text() and "ragchaos up: stopping" in log.read_text()
        # every process up started (and the page's server) stops with it
        deadline = time.monotonic() + 20
        while marked_pids(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marked_pids(mark) == [], log.read_text()[-3000:]
        assert listening({port}) == set()


def _attacker_page(target: str) -> str:
    press = json.dumps({"preset": "provider_429_storm"})
    return f"""<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="{target}api/faults" target="sink" enctype="text/plain">
  <input name='{press[:-1]}, "x": "' value='"}}'>
</form>
<script>
  document.getElementById("f").submit();
  fetch("{target}api/faults", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
        body: '{press}'}}).catch(() => {{}});
  fetch("{target}api/faults", {{method: "POST", headers: {{"Content-Type": "application/json", "X-Ragchaos-Live": "1"}},
        body: '{press}'}}).then(() => document.title = "sent", () => document.title = "blocked");
</script></body></html>"""


def test_another_page_cannot_press_a_fault(up: Up, tmp_path: Path) -> None:
    page_dir = tmp_path / "attacker"
    page_dir.mkdir()
    (page_dir / "index.html").write_text(_attacker_page(up.url))
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(page_dir), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium("--host-resolver-rules=MAP rebind.test 127.0.0.1") as browser:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("document.title === 'blocked' || document.title === 'sent'", timeout=15000)
            assert page.title() == "blocked"  # the JSON request's preflight got no CORS answer
            page.wait_for_timeout(1500)  # the form post and the no-cors fetch arrive and are refused
            # a DNS-rebinding name reaches 127.0.0.1 but is refused by its Host header
            resp = page.goto(f"http://rebind.test:{up.port}/")
            assert resp is not None and resp.status == 403
    finally:
        server.shutdown()
    state = up.state()
    assert state["bands"] == [], state["bands"]


def _wait(page, expression: str, timeout_s: float) -> None:
    page.wait_for_function(expression, timeout=timeout_s * 1000)


def _shares(page, start: float, end: float) -> dict[str, dict]:
    return page.evaluate("([s, e]) => ({naive: ragchaosLive.errorShare('naive', s, e), "
                         "reference: ragchaosLive.errorShare('reference', s, e)})", [start, end])


def test_the_429_storm_button_shows_naive_failing_and_reference_holding(up: Up, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(up.url)
        # steady: frames arrive and both apps answer
        _wait(page, "ragchaosLive.frames.filter(f => f.apps.naive && f.apps.naive.rps > 0 && "
                    "f.apps.reference.rps > 0).length >= 5", 60)
        page.screenshot(path=str(shots / "live-1-steady.png"))

        pressed = page.evaluate("Date.now() / 1000")
        page.click("#fault-provider_429_storm")
        _wait(page, "ragchaosLive.bands.some(b => b.preset === 'provider_429_storm' && b.end === null)", 5)
        page.wait_for_timeout(10_000)
        last = page.evaluate("ragchaosLive.frames[ragchaosLive.frames.length - 1].t")
        storm = _shares(page, pressed, last + 1)
        page.screenshot(path=str(shots / "live-2-storm.png"))
        naive, ref = storm["naive"], storm["reference"]
        # the naive error line rose: at least 5 errors and a fifth of its answers (it answers slowly
        # on a busy machine: 11 in the 10 s at a load average of 15, all of them errors; 5 errors
        # out of a 1% error rate would be a one-in-a-hundred-million accident)
        assert naive["errors"] >= 5 and naive["share"] >= 0.20, storm
        # "under 1%" from 15-40 answers (4/s for 10 s, fewer on a busy machine) means every one ok
        assert ref["requests"] >= 15, storm
        assert ref["share"] < 0.01, storm  # the reference's stayed under 1%
        # the run's phases follow the buttons, as a scenario's follow its timeline
        assert "fault" in page.evaluate(f"ragchaosLive.frames.filter(f => f.t > {pressed} + 2).map(f => f.phase)")
        assert page.evaluate("ragchaosLive.notes.length") > 0

        page.click("#fault-clear")
        _wait(page, "ragchaosLive.bands.every(b => b.end !== null)", 5)
        cleared = page.evaluate("Date.now() / 1000")
        # recovery: the naive app has a queue to drain (no admission control: requests it took
        # during the storm still wait, some past the client's timeout), so it is given up to 90 s
        # to get back under 5% errors over 5 s; the reference must stay under 1% all along
        recovered_at = None
        while recovered_at is None and page.evaluate("Date.now() / 1000") < cleared + 90:
            page.wait_for_timeout(1000)
            last = page.evaluate("ragchaosLive.frames[ragchaosLive.frames.length - 1].t")
            recent = _shares(page, last - 4, last + 1)
            if recent["naive"]["requests"] >= 10 and recent["naive"]["share"] < 0.05 and last - 4 > cleared:
                recovered_at = last - 4
        end = max((recovered_at or cleared + 90) + 5, cleared + 12)
        _wait(page, f"ragchaosLive.frames[ragchaosLive.frames.length - 1].t >= {end}", 30)
        after = _shares(page, cleared, end)
        page.screenshot(path=str(shots / "live-3-recovered.png"))
        assert recovered_at is not None, after
        assert after["reference"]["requests"] >= 20 and after["reference"]["share"] < 0.01, after
        assert "recovery" in page.evaluate(f"ragchaosLive.frames.filter(f => f.t > {cleared} + 2).map(f => f.phase)")

        # the load controls: the closed model at 2 users per app, a spike doubles it, stop stops it
        page.select_option("#load-mode", "users")
        page.fill("#load-level", "2")
        page.click("#load-start")
        _wait(page, "ragchaosLive.load.mode === 'users' && ragchaosLive.load.level === 2", 10)
        started = page.evaluate("Date.now() / 1000")
        _wait(page, f"ragchaosLive.frames.some(f => f.t > {started} + 1 && f.apps.naive.rps > 0 && "
                    "f.apps.reference.rps > 0)", 30)
        page.click("#load-spike")
        _wait(page, "ragchaosLive.load.level === 4 && ragchaosLive.load.running", 10)
        page.click("#load-stop")
        _wait(page, "!ragchaosLive.load.running", 10)
        assert page.locator("#load-now").inner_text() == "stopped"
        assert errors == []
    print(f"storm: {storm}\nafter: {after}\nnaive recovered {recovered_at - cleared:.0f} s after the clear"
          f"\nscreenshots in {shots}")
