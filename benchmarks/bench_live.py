"""How fast the live view follows, and what it costs the harness.

    .venv/bin/python benchmarks/bench_live.py [--rate 4] [--window 60] [--screenshot docs/images/live-spike.png]

Starts ``ragchaos up --rate RATE`` on loopback, opens the page in headless Chromium (Debian's
``chromium`` through Playwright) and measures:

1. **event to pixel**: for every frame the page drew, the time from the end of its second (the
   last moment a request of that second can complete) to the browser's paint after the frame
   arrived (``ragchaosLive.drawn``: Date.now() in the requestAnimationFrame after the one that drew
   it). Same machine, same clock.
2. **press to band**: a fault button pressed (``vector store slow`` on one app, then off again,
   ``--presses`` times): from the click to the paint that shows the band.
3. **CPU cost to the harness**: the ``ragchaos up`` process's own CPU (utime + stime from
   /proc, the apps and servers excluded: they are other processes) over ``--window`` seconds
   with no page open, one page, and three pages, under the same load; and the view's per-second
   work inside the process (``tick_cpu_ms`` of /api/state: frame, server figures, notes; the
   server polls are network waits and appear in the process figure only). Compare as ratios:
   the load's own cost is in every window.

With ``--screenshot PATH`` it measures nothing: one page, a minute of steady load, Spike ×2,
then the 429 storm for 25 s, and the page saved at 1280x720 (the picture in docs/live.md and
the README).
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
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import figures  # noqa: E402

from ragchaos.core.ports import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def state(url: str) -> dict:
    with urllib.request.urlopen(url + "api/state", timeout=10) as resp:
        return json.loads(resp.read())


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def screenshot(url: str, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
        page.goto(url)
        time.sleep(60)
        page.click("#load-spike")
        time.sleep(8)
        page.click("#fault-provider_429_storm")
        time.sleep(25)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        print(f"screenshot: {path} (load average {loadavg()})")
        page.click("#fault-clear")
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=4.0)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--presses", type=int, default=10)
    ap.add_argument("--screenshot", type=Path, default=None, help="take the docs picture instead of measuring")
    ap.add_argument("--warm", type=float, default=10.0, help="seconds of load before measuring")
    args = figures.parse(ap, {"window": 8.0, "presses": 2, "warm": 3.0})
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    log = (tmp / "up.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "ragchaos", "up", "--rate", str(args.rate), "--web-port", str(port),
                           "--out", str(tmp / "runs")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "(load, faults, notes" not in (tmp / "up.log").read_text():
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ragchaos up did not start:\n{(tmp / 'up.log').read_text()}")
            time.sleep(0.5)
        time.sleep(args.warm)  # caches and the first windows
        print(f"load average at start: {loadavg()}")

        def window(label: str) -> float:
            c0, t0 = cpu_s(up.pid), time.monotonic()
            time.sleep(args.window)
            used = (cpu_s(up.pid) - c0) / (time.monotonic() - t0)
            print(f"harness CPU, {label}: {used * 100:.1f}% of a core")
            return used

        if args.screenshot is not None:
            screenshot(url, args.screenshot)
            return 0
        results: dict[str, Any] = {"rate": args.rate, "window_s": args.window}
        results["cpu_no_page"] = window("no page open")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            pages = []
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
                pages.append(page)
            pages[0].goto(url)
            pages[0].wait_for_function("ragchaosLive.drawn.length > 3", timeout=30000)
            results["cpu_one_page"] = window("one page open")
            for page in pages[1:]:
                page.goto(url)
            results["cpu_three_pages"] = window("three pages open")
            for page in pages[1:]:
                page.close()
            page = pages[0]

            drawn = page.evaluate("ragchaosLive.drawn")
            lags = [(d["at"] / 1000.0 - (d["t"] + 1)) * 1000 for d in drawn[5:]]
            results["event_to_pixel_ms"] = {"n": len(lags), "p50": round(pct(lags, 50)), "p99": round(pct(lags, 99)),
                                            "max": round(max(lags)), "min": round(min(lags))}
            print(f"event to pixel (end of second -> painted): {results['event_to_pixel_ms']}")

            presses = []
            for i in range(args.presses):
                page.select_option("#fault-target", "naive")
                before = page.evaluate("Date.now()")
                page.click("#fault-vectordb_slow")
                want = "b.end === null" if i % 2 == 0 else "b.end !== null"
                page.wait_for_function(f"ragchaosLive.bands.some(b => b.preset === 'vectordb_slow' && {want}) "
                                       f"&& ragchaosLive.drawn.length", timeout=10000)
                after = page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                                      "() => r(Date.now()))))")
                presses.append(after - before)
                time.sleep(2)
            page.click("#fault-clear")
            results["press_to_band_ms"] = {"n": len(presses), "p50": round(statistics.median(presses)),
                                           "max": round(max(presses))}
            print(f"press to band painted: {results['press_to_band_ms']}")
            snap = state(url)
            results["tick_cpu_ms"] = snap["tick_cpu_ms"]
            print(f"view's per-second work in the harness: {results['tick_cpu_ms']}")
            # what the load really was (the page's own frames, the same figures the windows above ran at)
            frames = snap["frames"][-int(3 * args.window):]
            results["answered_per_s"] = {app: round(sum(f["apps"][app]["rps"] for f in frames) / max(len(frames), 1), 1)
                                         for app in snap["apps"]}
            print(f"requests completed per second per app: {results['answered_per_s']}")

            browser.close()
        print(f"load average at end: {loadavg()}")
        e2p, press = results["event_to_pixel_ms"], results["press_to_band_ms"]
        results["headline"] = {
            "event to pixel p50/p99": f"{e2p['p50']} / {e2p['p99']} ms",
            "press to band p50": f"{press['p50']} ms",
            "harness CPU, 0/1/3 pages": " / ".join(f"{results[k] * 100:.1f}%" for k in
                                                   ("cpu_no_page", "cpu_one_page", "cpu_three_pages")),
        }
        print(json.dumps(results))
        figures.write(args, results)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
