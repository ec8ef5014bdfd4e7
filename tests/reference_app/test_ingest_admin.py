"""The dead-letter admin API and CLI (reference_app/ingest_admin.py), on the local queue.

Dead letters are made in the job store directly (a permanent failure), so no provider is needed;
the run through the real provider is tests/scaleout/test_poison_ingest.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ragchaos.cli import main
from ragchaos.core.ports import free_port
from ragchaos.reference_app.app import create_app
from ragchaos.reference_app.settings import ReferenceSettings

P = "/admin/ingest/dead-letters"


def _bury(client: TestClient | httpx.Client, doc_id: str, error: str, app: Any = None) -> str:
    """A job accepted through the API, then refused for good (as the worker would record it)."""
    job_id = client.post("/v1/documents", json={"tenant": "acme", "doc_id": doc_id, "text": "some text"}).json()["job_id"]
    store = (app or client.app).state.queue.store.store  # type: ignore[union-attr]  # the LocalJobQueue's JobStore
    store._db.execute("UPDATE jobs SET state = 'running', attempts = 1 WHERE id = ?", (job_id,))
    assert store.fail(job_id, error, retry_in=0.0, permanent=True) == "failed"
    return str(job_id)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # no worker: the jobs stay where the test puts them
    settings = ReferenceSettings(data_dir=tmp_path, ingest_workers=0)
    with TestClient(create_app(settings)) as c:
        yield c


def test_list_show_replay_purge(client: TestClient) -> None:
    a = _bury(client, "a", "BadRequestError: This model's maximum context length is 8192 tokens")
    b = _bury(client, "b", "ValueError: Expected metadata value to be a str, int, float or bool")
    listing = client.get(P).json()
    assert listing["count"] == 2 and listing["oldest_age_s"] >= 0
    assert [i["job_id"] for i in listing["items"]] == [a, b] and listing["items"][0]["attempts"] == 1
    shown = client.get(f"{P}/{a}").json()
    assert shown["text"] == "some text" and shown["state"] == "failed" and "8192" in shown["error"]
    assert len(shown["failures"]) == 1 and shown["failures"][0]["at"] >= shown["accepted_at"]
    assert client.post(f"{P}/{a}/replay").json() == {"replayed": [a]}
    assert client.get(f"/v1/jobs/{a}").json()["state"] == "queued"
    assert client.get(f"{P}/{a}").status_code == 404  # no longer a dead letter
    assert client.delete(f"{P}/{b}").json() == {"purged": [b]}
    assert client.get(f"/v1/jobs/{b}").status_code == 404
    c = _bury(client, "c", "BadRequestError: refused")
    assert client.post(f"{P}/replay").json() == {"replayed": [c]}
    d = _bury(client, "d", "BadRequestError: refused")
    assert client.delete(P).json() == {"purged": [d]} and client.get(P).json()["count"] == 0


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{P}/{'0' * 32}"), ("GET", f"{P}/not-an-id"), ("POST", f"{P}/{'0' * 32}/replay"),
    ("DELETE", f"{P}/../../etc"),
])
def test_unknown_or_malformed_ids_are_a_json_404(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 404 and "error" in r.json(), r.text


def test_a_job_that_is_not_a_dead_letter_cannot_be_replayed_or_purged(client: TestClient) -> None:
    job_id = client.post("/v1/documents", json={"tenant": "acme", "doc_id": "q", "text": "x"}).json()["job_id"]
    assert client.post(f"{P}/{job_id}/replay").status_code == 404
    assert client.delete(f"{P}/{job_id}").status_code == 404
    assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "queued"


def test_switched_off_queue_says_so(tmp_path: Path) -> None:
    settings = ReferenceSettings(data_dir=tmp_path, disable="queue")
    with TestClient(create_app(settings)) as c:
        r = c.get(P)
    assert r.status_code == 404 and "switched off" in r.json()["error"]["message"]


def test_cli_lists_shows_and_replays_against_a_running_app(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(ReferenceSettings(data_dir=tmp_path, ingest_workers=0))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url) as c:
            job = _bury(c, "cli", "BadRequestError: too long", app)
        assert main(["reference", "dead-letters", "list", "--url", url]) == 0
        assert f"{job}  acme/cli  attempts=1  BadRequestError: too long" in capsys.readouterr().out
        assert main(["reference", "dead-letters", "show", job, "--url", url]) == 0
        assert '"text": "some text"' in capsys.readouterr().out
        assert main(["reference", "dead-letters", "replay", job, "--url", url]) == 0
        assert main(["reference", "dead-letters", "replay", "--url", url]) != 0  # neither an id nor --all
        assert "give one job id, or --all" in capsys.readouterr().err
        assert main(["reference", "dead-letters", "show", "f" * 32, "--url", url]) != 0
        assert "HTTP 404" in capsys.readouterr().err
    finally:
        server.should_exit = True
        thread.join(10)
    assert main(["reference", "dead-letters", "list", "--url", f"http://127.0.0.1:{free_port()}"]) != 0
    assert "cannot reach the reference app" in capsys.readouterr().err
