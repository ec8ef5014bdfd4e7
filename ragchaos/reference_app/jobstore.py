"""The durable ingest queue: jobs in SQLite on local disk.

``POST /v1/documents`` answers 202 only after ``enqueue`` has committed the job (WAL,
``synchronous=FULL``: the commit is on disk, so a crash right after the 202 loses nothing).
Workers ``claim`` jobs (queued -> running; ``attempts`` counts deliveries, as SQS's receive
count does), and ``complete`` or ``fail`` them. A job that failed for a transient reason goes
back to the queue after a backoff, until ``max_attempts``; a permanent failure (the document
itself was refused) or the last attempt makes it a dead letter (state ``failed``), kept with its
document, its error and every failure's time and error, until it is replayed (``replay``: back
to the queue, attempts from zero) or purged. On start, ``recover`` returns jobs a crashed process
left running to the queue: chunk ids are stable, so doing a job twice is an idempotent upsert,
never a duplicate; a job that crashes its process every time is still bounded by its attempts.

One job per document is claimed at a time (the oldest), so two versions of one document are
indexed in the order they were accepted. SQLite calls block, so the async app runs them in a
thread (``asyncio.to_thread``) behind one lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Job", "JobStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    chunks INTEGER,
    accepted_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    next_attempt_at REAL NOT NULL,
    failures TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, next_attempt_at, accepted_at);
CREATE INDEX IF NOT EXISTS jobs_doc ON jobs (tenant, doc_id, state);
"""
_FAILURES_KEPT = 20  # per job: a dead letter shows its history without growing without bound


@dataclass(frozen=True)
class Job:
    id: str
    tenant: str
    doc_id: str
    text: str
    metadata: dict[str, Any] | None
    state: str
    attempts: int
    error: str | None
    chunks: int | None
    accepted_at: float
    started_at: float | None
    finished_at: float | None
    failures: tuple[tuple[float, str], ...] = ()  # (when, error) of each failed attempt
    receipt: str | None = None  # the queue's handle for this delivery (Redis Streams: the entry id)


class JobStore:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, max_attempts: int = 5) -> None:
        self.path = path
        self.max_attempts = max_attempts
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        if "failures" not in columns:  # a queue file written before dead letters kept their history
            self._db.execute("ALTER TABLE jobs ADD COLUMN failures TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def enqueue(self, tenant: str, doc_id: str, text: str, metadata: dict[str, Any] | None) -> Job:
        now = self._clock()
        job_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, tenant, doc_id, text, metadata, state, accepted_at, next_attempt_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (job_id, tenant, doc_id, text, json.dumps(metadata) if metadata else None, now, now),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def claim(self, limit: int) -> list[Job]:
        """Up to ``limit`` due jobs, oldest first, at most one per document, now running."""
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT * FROM jobs j WHERE state = 'queued' AND next_attempt_at <= ?"
                    " AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running'"
                    "                 AND r.tenant = j.tenant AND r.doc_id = j.doc_id)"
                    " ORDER BY accepted_at LIMIT ?",
                    (now, limit * 4),
                ).fetchall()
                picked: list[sqlite3.Row] = []
                docs: set[tuple[str, str]] = set()
                for row in rows:
                    if (row["tenant"], row["doc_id"]) not in docs and len(picked) < limit:
                        docs.add((row["tenant"], row["doc_id"]))
                        picked.append(row)
                for row in picked:
                    self._db.execute(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?",
                        (now, row["id"]),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [j for j in (self.get(r["id"]) for r in picked) if j is not None]

    def complete(self, job_id: str, chunks: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'done', chunks = ?, error = NULL, finished_at = ? WHERE id = ?",
                (chunks, self._clock(), job_id),
            )

    def fail(self, job_id: str, error: str, *, retry_in: float, permanent: bool = False) -> str:
        """Back to the queue after ``retry_in`` seconds; a dead letter (``failed``) if ``permanent``
        or this was its last attempt. Returns the new state."""
        now = self._clock()
        with self._lock:
            row = self._db.execute("SELECT attempts, failures FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return "missing"
            state = "failed" if permanent or row["attempts"] >= self.max_attempts else "queued"
            failures = (json.loads(row["failures"]) if row["failures"] else []) + [[now, error[:500]]]
            self._db.execute(
                "UPDATE jobs SET state = ?, error = ?, next_attempt_at = ?, finished_at = ?, failures = ? WHERE id = ?",
                (state, error[:500], now + retry_in, now if state == "failed" else None,
                 json.dumps(failures[-_FAILURES_KEPT:]), job_id),
            )
        return state

    def dead_letters(self, limit: int = 100) -> list[Job]:
        """Dead letters, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = 'failed' ORDER BY finished_at, id LIMIT ?",
                                    (limit,)).fetchall()
        return [_job(r) for r in rows]

    def dead_letter_stats(self) -> tuple[int, float | None]:
        """How many dead letters, and when the oldest became one (None if none)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) AS n, MIN(finished_at) AS t FROM jobs WHERE state = 'failed'"
                                   ).fetchone()
        return int(row["n"]), row["t"]

    def replay(self, job_id: str | None = None) -> list[str]:
        """Dead letters (one, or all) back to the queue with their attempts from zero; their
        failure history stays. Returns the ids replayed."""
        where, args = ("state = 'failed' AND id = ?", (job_id,)) if job_id else ("state = 'failed'", ())
        with self._lock:
            ids = [r["id"] for r in self._db.execute(f"SELECT id FROM jobs WHERE {where}", args)]
            self._db.execute(
                f"UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, finished_at = NULL,"
                f" next_attempt_at = ? WHERE {where}", (self._clock(), *args))
        return ids

    def purge(self, job_id: str | None = None) -> list[str]:
        """Delete dead letters (one, or all). Returns the ids deleted."""
        where, args = ("state = 'failed' AND id = ?", (job_id,)) if job_id else ("state = 'failed'", ())
        with self._lock:
            ids = [r["id"] for r in self._db.execute(f"SELECT id FROM jobs WHERE {where}", args)]
            self._db.execute(f"DELETE FROM jobs WHERE {where}", args)
        return ids

    def recover(self) -> int:
        """Jobs left running by a crashed process go back to the queue."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET state = 'queued', next_attempt_at = ? WHERE state = 'running'",
                                   (self._clock(),))
            return cur.rowcount

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return {r["state"]: r["n"] for r in rows}

    def next_due_in(self) -> float | None:
        """Seconds until the next queued job is due (0 if one is due now), None if none queued."""
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) AS t FROM jobs WHERE state = 'queued'").fetchone()
        if row is None or row["t"] is None:
            return None
        return max(0.0, row["t"] - self._clock())


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], tenant=row["tenant"], doc_id=row["doc_id"], text=row["text"],
        metadata=json.loads(row["metadata"]) if row["metadata"] else None, state=row["state"],
        attempts=row["attempts"], error=row["error"], chunks=row["chunks"], accepted_at=row["accepted_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
        failures=tuple((float(at), str(err)) for at, err in json.loads(row["failures"] or "[]")),
    )
