"""Overload: at 15x its capacity the reference app sheds fast with 503 + Retry-After, and holds.

Capacity is made small and exact so the test does not depend on the machine's speed: admission
lets 4 requests in at once (``RAGCHAOS_ADMISSION__MAX_IN_FLIGHT=4``, 50 ms wait), caches are off
(every query is a full pipeline) and the provider holds every chat call 2 s. 60 queries arrive
at once: about 4 can be served per 2 s, so most must be refused, fast, with a JSON 503 and a
Retry-After; every admitted one must answer 200 within the 10 s request budget; nothing may be
a 500 or a client timeout; and the process's resident memory must stay bounded.

The timing claims (p99 of admitted requests at 10x a measured capacity, shed latency, RSS over a
longer overload) are in benchmarks/bench_overload.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import ingest, launch, new_tenant

pytestmark = pytest.mark.slow

CAPACITY = 4
ARRIVALS = 60
BUDGET_S = 10.0  # deadline.request_s
ENV = {
    "RAGCHAOS_ADMISSION__MAX_IN_FLIGHT": str(CAPACITY),
    "RAGCHAOS_ADMISSION__MAX_WAIT_S": "0.05",
    "RAGCHAOS_QUOTA__RATE_PER_S": "100000",  # admission, not the tenant quota, is what refuses
    "RAGCHAOS_QUOTA__BURST": "100000",
    "RAGCHAOS_DISABLE": "cache",
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def _burst(url: str, tenant: str) -> list[tuple[int, float, httpx.Headers, dict]]:
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=ARRIVALS)) as c:
        async def one(i: int) -> tuple[int, float, httpx.Headers, dict]:
            t = time.monotonic()
            r = await c.post("/v1/query", json={"tenant": tenant, "question": f"{i} ways to water {i} seedlings?"})
            return r.status_code, time.monotonic() - t, r.headers, r.json()

        return await asyncio.gather(*(one(i) for i in range(ARRIVALS)))


def test_overload_sheds_with_503_and_retry_after_and_admitted_requests_stay_in_budget(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("reference", provider, chroma, toxiproxy, session_dir, env=ENV)
    tenant = new_tenant()
    faults = f"{provider.url}/_control/faults"
    fault = None
    try:
        ingest(app, tenant, {f"doc-{i}": document("garden", 1, i) for i in range(3)})
        fault = httpx.post(faults, json={"kind": "hang", "seconds": 2, "endpoint": "chat", "key": app.key},
                           timeout=10).json()["id"]
        rss_before = rss_kib(app.pid)
        results = asyncio.run(_burst(app.url, tenant))
        rss_after = rss_kib(app.pid)
        health = httpx.get(f"{app.url}/healthz", timeout=5).status_code
    finally:
        if fault is not None:
            httpx.delete(f"{faults}/{fault}", timeout=10)
        app.stop()

    statuses = Counter(s for s, *_ in results)
    assert set(statuses) <= {200, 503}, statuses
    shed = [(t, h, b) for s, t, h, b in results if s == 503]
    admitted = sorted(t for s, t, *_ in results if s == 200)
    # at most 4 in at once, each held 2 s: the burst cannot be served, most of it is refused
    assert len(shed) >= ARRIVALS // 2, statuses
    assert len(admitted) >= CAPACITY, statuses
    for _, headers, body in shed:
        assert int(headers["Retry-After"]) >= 1
        assert body["error"]["type"] == "overloaded", body
    # refused fast: no 503 waited anywhere near an admitted request's time
    assert max(t for t, _, _ in shed) < 2.0, sorted(t for t, _, _ in shed)[-5:]
    # the app's deadline is BUDGET_S; the client sees the answer after its own scheduling, which
    # a loaded 2-core machine delays (10.05 s seen once): 1 s of slack still catches a deadline
    # that is not enforced (an admitted request would then wait as long as the queue ahead of it)
    assert admitted[-1] <= BUDGET_S + 1.0, admitted
    assert health == 200
    # bounded: the burst's requests are gone once answered (a generous bound for a noisy machine)
    assert rss_after - rss_before < 64 * 1024, (rss_before, rss_after)
