"""Issue 20's acceptance, at test size, in both queue modes (SQLite and Redis Streams).

300 documents, 2% poison (an oversized chunk the real provider refuses with its 400), a 503
window on the app's embeddings calls for the first 100 accepted, and a SIGKILL once 200 were
accepted: every good document indexed (none dead-lettered, none missing from Chroma), every
poison document a dead letter with the provider's error, and after the cause is removed (the
provider's input limit raised) a replay indexes them. The benchmark (1,000 documents, and the
freshness with and without poison) is benchmarks/bench_poison_ingest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.helpers import launch, new_tenant
from tests.reliability import poison
from tests.reliability.storm import queue_states

pytestmark = pytest.mark.slow

N_DOCS, FAULT_UNTIL, KILL_AT = 300, 100, 200
ENV = {
    "RAGCHAOS_QUOTA__RATE_PER_S": "100000", "RAGCHAOS_QUOTA__BURST": "100000",
    "RAGCHAOS_INGEST_BACKOFF_S": "0.2", "RAGCHAOS_INGEST_MAX_ATTEMPTS": "8",
    "RAGCHAOS_INGEST_CLAIM_IDLE_S": "3",
}


@pytest.mark.parametrize("mode", ["local", "redis"])
def test_poison_is_dead_lettered_and_good_documents_are_all_indexed_across_a_sigkill(
    mode: str, provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    env = dict(ENV)
    if mode == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        env["RAGCHAOS_REDIS_PREFIX"] = request.getfixturevalue("redis_prefix")
    app = launch("reference", provider, chroma, toxiproxy, session_dir, env=env)
    db = Path(app.env["RAGCHAOS_DATA_DIR"]) / "ingest-queue.sqlite3"
    try:
        result = poison.run(app, provider, chroma, new_tenant(), n_docs=N_DOCS, poison_share=0.02,
                            fault_until=FAULT_UNTIL, kill_at=KILL_AT,
                            queue_states=(lambda: queue_states(db)) if mode == "local" else None)
    finally:
        app.stop()
    print(f"poison-ingest {mode}:", json.dumps(result.summary()))
    assert len(result.poison) == 6 and result.accepted == N_DOCS
    assert result.killed_with, "the SIGKILL did not happen"
    assert result.good_not_done == [], result.summary()
    assert result.lost_in_store == [], result.lost_in_store[:10]
    assert set(result.dead) == result.poison, result.summary()
    assert all("maximum context length is 8192 tokens" in err for err in result.dead.values()), result.dead
    assert result.retried > 0, "the fault window retried nothing: did it reach the app?"
    assert result.replayed_done == len(result.poison), result.summary()
