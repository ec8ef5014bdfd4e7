"""The durable queue's storage: committed before 202, survives reopening, retries, recovery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ragchaos.reference_app.jobstore import JobStore


def test_a_job_is_on_disk_as_soon_as_enqueue_returns(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.sqlite3")
    job = store.enqueue("t", "d", "text", {"k": 1})
    # a second, independent connection (another process after a crash) sees it
    row = sqlite3.connect(tmp_path / "q.sqlite3").execute("SELECT state, text FROM jobs WHERE id = ?", (job.id,)).fetchone()
    assert row == ("queued", "text")
    assert job.metadata == {"k": 1} and job.state == "queued"


def test_claim_complete_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    now = [1000.0]
    store = JobStore(path, clock=lambda: now[0])
    ids = [store.enqueue("t", f"d{i}", "x", None).id for i in range(3)]
    claimed = store.claim(2)
    assert [j.id for j in claimed] == ids[:2] and all(j.state == "running" and j.attempts == 1 for j in claimed)
    now[0] = 1002.5
    store.complete(ids[0], chunks=4)
    store.close()
    again = JobStore(path, clock=lambda: now[0])
    done = again.get(ids[0])
    assert done is not None and done.state == "done" and done.chunks == 4 and done.finished_at == 1002.5
    assert again.counts() == {"done": 1, "running": 1, "queued": 1}


def test_recover_requeues_jobs_a_crash_left_running(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.sqlite3")
    job = store.enqueue("t", "d", "x", None)
    store.claim(10)
    store.close()  # the process died mid-job
    fresh = JobStore(tmp_path / "q.sqlite3")
    assert fresh.recover() == 1
    (again,) = fresh.claim(10)
    assert again.id == job.id and again.attempts == 2


def test_fail_backs_off_then_gives_up(tmp_path: Path) -> None:
    now = [0.0]
    store = JobStore(tmp_path / "q.sqlite3", clock=lambda: now[0], max_attempts=2)
    job = store.enqueue("t", "d", "x", None)
    store.claim(1)
    assert store.fail(job.id, "boom", retry_in=5.0) == "queued"
    assert store.claim(1) == [] and store.next_due_in() == 5.0
    now[0] = 5.0
    store.claim(1)
    assert store.fail(job.id, "boom again", retry_in=5.0) == "failed"
    failed = store.get(job.id)
    assert failed is not None and failed.state == "failed" and failed.error == "boom again"


def test_one_job_per_document_at_a_time_in_order(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.sqlite3")
    v1 = store.enqueue("t", "doc", "version 1", None)
    v2 = store.enqueue("t", "doc", "version 2", None)
    other = store.enqueue("t", "other", "x", None)
    assert [j.id for j in store.claim(10)] == [v1.id, other.id]
    assert store.claim(10) == []  # v2 waits until v1 is finished
    store.complete(v1.id, 1)
    assert [j.id for j in store.claim(10)] == [v2.id]
