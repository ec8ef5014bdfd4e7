"""A stack stop lets an app finish its in-flight requests: the stop grace is the app's own drain grace.

``ManagedProcess.stop`` waits between SIGTERM and SIGKILL. With a fixed 5 s it SIGKILLed an app
still draining (the apps give in-flight requests ``RAGCHAOS_SHUTDOWN_GRACE_S``, 15 s by default):
the request died with the process. ``start_app`` now gives each of our apps its drain grace plus
a margin for lifespan shutdown (``drain_stop_grace``).

No timing luck: the provider holds the query's chat call ``HOLD_S`` = 9 s (the app's budgets are
raised above it, under its drain grace), and the stop begins only once the query is known to
wait there (the chat bulkhead counts it). The old 5 s grace SIGKILLs about 4 s before the answer
can come; the app's 15 s drain grace leaves about 5 s to spare.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import DRAIN_MARGIN_S, Stack, StackConfig, drain_stop_grace
from tests.apps.corpus import document

HOLD_S = 9.0
TENANT = "drain-t"
# the query's budget and chat attempt above the hold (defaults 10 s and 8 s), below the drain grace
BUDGETS = {"RAGCHAOS_DEADLINE__REQUEST_S": "13", "RAGCHAOS_DEADLINE__CHAT_ATTEMPT_S": "12"}


def test_the_stop_grace_follows_the_drain_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGCHAOS_SHUTDOWN_GRACE_S", raising=False)
    assert drain_stop_grace({}) == 15 + DRAIN_MARGIN_S  # AppSettings' default
    assert drain_stop_grace({"RAGCHAOS_SHUTDOWN_GRACE_S": "30"}) == 30 + DRAIN_MARGIN_S
    assert drain_stop_grace({"RAGCHAOS_SHUTDOWN_GRACE_S": "2.5"}) == 3 + DRAIN_MARGIN_S  # the app rounds up
    for bad in ("soon", "0", "-1", "nan", "301"):  # the app refuses these at start: never served
        assert drain_stop_grace({"RAGCHAOS_SHUTDOWN_GRACE_S": bad}) == 15 + DRAIN_MARGIN_S
    monkeypatch.setenv("RAGCHAOS_SHUTDOWN_GRACE_S", "40")  # inherited by the app when not set for it
    assert drain_stop_grace({}) == 40 + DRAIN_MARGIN_S


def _wait(cond: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _chat_in_flight(url: str) -> int:
    return int(httpx.get(f"{url}/_stats/breakers", timeout=5).json()["bulkheads"]["chat"]["in_flight"])


@pytest.mark.slow
def test_a_stack_stop_lets_an_in_flight_query_finish(tmp_path: Path) -> None:
    stack = Stack(StackConfig(run_dir=tmp_path / "run", apps=("reference",), app_env={"reference": BUDGETS}))
    results: list[int | str] = []
    with stack:
        app = stack.apps["reference"].url
        process = stack.app_processes["reference"]
        assert process.stop_grace_s == drain_stop_grace(process.env or {}) > HOLD_S
        with httpx.Client(base_url=app, timeout=30) as c:
            jobs = [c.post("/v1/documents", json={"tenant": TENANT, "doc_id": f"d{i}",
                                                  "text": document("garden", 1, i)}).json()["job_id"] for i in range(2)]
            _wait(lambda: all(c.get(f"/v1/jobs/{j}").json()["state"] == "done" for j in jobs), "the documents")
        assert stack.provider is not None
        httpx.post(f"{stack.provider.url}/_control/faults", timeout=10,
                   json={"kind": "hang", "seconds": HOLD_S, "endpoint": "chat", "key": "reference"}).raise_for_status()

        def ask() -> None:
            try:
                r = httpx.post(f"{app}/v1/query", json={"tenant": TENANT, "question": "how do I prune tomatoes?"},
                               timeout=60)
                results.append(r.status_code)
            except httpx.HTTPError as exc:
                results.append(type(exc).__name__)

        asker = threading.Thread(target=ask)
        asker.start()
        _wait(lambda: _chat_in_flight(app) >= 1, "the query to wait on the provider")
        # leaving the block stops the stack: the app first (SIGTERM, its drain), then the provider
    asker.join(timeout=60)
    assert process.popen is not None
    assert results == [200], results
    # a drained app exits on its own (uvicorn re-raises the SIGTERM); -9 means it was SIGKILLed
    assert process.popen.returncode in (0, -signal.SIGTERM), process.popen.returncode
