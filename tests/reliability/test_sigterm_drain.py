"""SIGTERM drains the reference app: refuse new connections, finish what is in flight, keep the queue.

What SIGTERM does (uvicorn's graceful shutdown, then the app's lifespan): the listening socket
closes at once, so a new request gets *connection refused* (a load balancer's health check
fails the same way and moves traffic elsewhere); requests already in flight run to completion
for up to 5 s (``timeout_graceful_shutdown``); then the ingest workers are cancelled. A job
they were running stays ``running`` in the queue file and is queued again at the next start
(``JobStore.recover``): nothing is marked done or failed that was not.

No timing luck: requests are known to be in flight (the chat bulkhead counts them) before the
signal, the provider holds each of them 6 s, and the checks are on order and outcome.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import ingest, launch, new_tenant, submit_held_jobs, wait_for, wait_job
from tests.reliability.storm import queue_states

pytestmark = pytest.mark.slow

IN_FLIGHT = 6
# each query is held 6 s at the provider: inside the 10 s request budget, but longer than the
# 5 s grace uvicorn had before RAGCHAOS_SHUTDOWN_GRACE_S, which cut such requests with a 500
HOLD_S = 6.0
# uvicorn re-raises the SIGTERM once it has shut down, so a clean drain ends "killed by SIGTERM";
# never by SIGKILL (-9), which would mean it hung and ManagedProcess had to force it
CLEAN_EXIT = (0, -signal.SIGTERM)


def _chat_in_flight(url: str) -> int:
    return int(httpx.get(f"{url}/_stats/breakers", timeout=5).json()["bulkheads"]["chat"]["in_flight"])


def test_sigterm_refuses_new_connections_and_finishes_in_flight_requests(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("reference", provider, chroma, toxiproxy, session_dir)
    tenant = new_tenant()
    faults = f"{provider.url}/_control/faults"
    fault: str | None = None
    try:
        ingest(app, tenant, {f"doc-{i}": document("garden", 1, i) for i in range(3)})
        fault = httpx.post(faults, json={"kind": "hang", "seconds": HOLD_S, "endpoint": "chat", "key": app.key},
                           timeout=10).json()["id"]
        results: list[tuple[int, float]] = []

        def ask(i: int) -> None:
            with app.client() as c:
                r = c.post("/v1/query", json={"tenant": tenant, "question": f"how do I prune tomatoes, case {i}?"})
                results.append((r.status_code, time.monotonic()))

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(IN_FLIGHT)]
        for t in threads:
            t.start()
        wait_for(lambda: _chat_in_flight(app.url) >= IN_FLIGHT, "every query to be waiting on the provider")

        process = app.process
        assert process.popen is not None
        os.kill(app.pid, signal.SIGTERM)
        refused_at = None
        deadline = time.monotonic() + 10
        while refused_at is None and time.monotonic() < deadline:
            try:
                httpx.get(f"{app.url}/healthz", timeout=1)
                time.sleep(0.02)
            except httpx.ConnectError:
                refused_at = time.monotonic()
        for t in threads:
            t.join(timeout=30)
        code = process.popen.wait(timeout=30)
    finally:
        if fault is not None:
            httpx.delete(f"{faults}/{fault}", timeout=10)
        app.stop()

    assert refused_at is not None, "new connections were still accepted 10 s after SIGTERM"
    assert [s for s, _ in results] == [200] * IN_FLIGHT, results
    # the refusal came while the old requests were still being served, not after they ended
    assert refused_at < min(t for _, t in results)
    assert code in CLEAN_EXIT, f"the app did not exit cleanly after draining (exit code {code})"


def test_sigterm_keeps_unfinished_jobs_for_the_next_start(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("reference", provider, chroma, toxiproxy, session_dir)
    tenant = new_tenant()
    faults = f"{provider.url}/_control/faults"
    fault: str | None = httpx.post(faults, json={"kind": "hang", "endpoint": "embeddings", "key": app.key},
                                   timeout=10).json()["id"]
    try:
        jobs = submit_held_jobs(app, provider, tenant, {f"doc-{i}": document("shipping", 1, i) for i in range(5)})
        process = app.process
        assert process.popen is not None
        os.kill(app.pid, signal.SIGTERM)
        code = process.popen.wait(timeout=30)
        states = queue_states(Path(app.env["RAGCHAOS_DATA_DIR"]) / "ingest-queue.sqlite3")
        app.stop()

        httpx.delete(f"{faults}/{fault}", timeout=10)
        fault = None
        app.start_again()
        with app.client() as c:
            after = [wait_job(c, j)["state"] for j in jobs]
    finally:
        if fault is not None:
            httpx.delete(f"{faults}/{fault}", timeout=10)
        app.stop()

    assert code in CLEAN_EXIT, f"the app did not exit cleanly (exit code {code})"
    assert set(states) <= {"queued", "running"} and sum(states.values()) == 5, states
    assert after == ["done"] * 5
