"""Dead letters, for an operator: the admin API and ``ragchaos reference dead-letters``.

API (the reference app, ingest queue on):

| call | answer |
|---|---|
| ``GET /admin/ingest/dead-letters?limit=N`` | ``{"count", "oldest_age_s", "items": [summary...]}``, oldest first |
| ``GET /admin/ingest/dead-letters/{job_id}`` | the job: document, metadata, error, attempts, each failure's time and error |
| ``POST /admin/ingest/dead-letters/{job_id}/replay``, ``POST .../dead-letters/replay`` | ``{"replayed": [ids]}``: back to the queue, attempts from zero |
| ``DELETE /admin/ingest/dead-letters/{job_id}``, ``DELETE .../dead-letters`` | ``{"purged": [ids]}`` |

Replay after the cause is fixed (a provider limit raised, a document corrected upstream and the
metadata rule relaxed); a replayed job that fails again is a dead letter again, with its history.
The CLI speaks to a running app over HTTP (``--url``), so it works the same in both queue modes.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Query

from ragchaos.core.errors import CliError
from ragchaos.kit.errors import ApiError
from ragchaos.reference_app.ingest_queue import IngestQueue
from ragchaos.reference_app.jobstore import Job

__all__ = ["add_dead_letter_command", "dead_letter_routes"]

PREFIX = "/admin/ingest/dead-letters"
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def _summary(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "tenant": job.tenant, "doc_id": job.doc_id, "error": job.error,
            "attempts": job.attempts, "accepted_at": job.accepted_at, "failed_at": job.finished_at,
            "text_chars": len(job.text)}


def _detail(job: Job) -> dict[str, Any]:
    return {**_summary(job), "state": job.state, "text": job.text, "metadata": job.metadata,
            "failures": [{"at": at, "error": err} for at, err in job.failures]}


def dead_letter_routes(queue: IngestQueue | None) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def need_queue() -> IngestQueue:
        if queue is None:
            raise ApiError(404, "not_found", "the ingest queue is switched off; there are no dead letters")
        return queue

    async def need_dead(job_id: str) -> Job:
        job = await need_queue().get(job_id) if _JOB_ID.match(job_id) else None
        if job is None or job.state != "failed":
            raise ApiError(404, "not_found", f"no dead letter {job_id!r}")
        return job

    @router.get("")
    async def list_dead(limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
        q = need_queue()
        count, oldest = await q.dead_letter_stats()
        return {"count": count, "oldest_age_s": None if oldest is None else max(0.0, time.time() - oldest),
                "items": [_summary(j) for j in await q.dead_letters(limit)]}

    @router.post("/replay")
    async def replay_all() -> dict[str, Any]:
        return {"replayed": await need_queue().replay(None)}

    @router.delete("")
    async def purge_all() -> dict[str, Any]:
        return {"purged": await need_queue().purge(None)}

    @router.get("/{job_id}")
    async def show(job_id: str) -> dict[str, Any]:
        return _detail(await need_dead(job_id))

    @router.post("/{job_id}/replay")
    async def replay_one(job_id: str) -> dict[str, Any]:
        await need_dead(job_id)
        return {"replayed": await need_queue().replay(job_id)}

    @router.delete("/{job_id}")
    async def purge_one(job_id: str) -> dict[str, Any]:
        await need_dead(job_id)
        return {"purged": await need_queue().purge(job_id)}

    return router


# -- ragchaos reference dead-letters ACTION ----------------------------------------------------

def add_dead_letter_command(sub: Any) -> None:
    cmd = sub.add_parser("dead-letters", help="list, show, replay or purge the ingest queue's dead letters")
    cmd.add_argument("action", choices=["list", "show", "replay", "purge"],
                     help="list the dead letters, show one, replay (re-queue) or purge them")
    cmd.add_argument("job_id", nargs="?", help="one job (show, replay, purge); replay/purge all with --all")
    cmd.add_argument("--all", action="store_true", help="replay or purge every dead letter")
    cmd.add_argument("--url", default="http://127.0.0.1:8080", help="the reference app (default %(default)s)")
    cmd.add_argument("--api-key", default=None, help="a key when the app requires one (RAGCHAOS_AUTH_KEYS)")
    cmd.add_argument("--limit", type=int, default=100, help="at most this many dead letters listed (default 100)")
    cmd.set_defaults(func=_run)


def _request(args: argparse.Namespace) -> tuple[str, str]:
    if args.action == "list":
        return "GET", f"{PREFIX}?limit={args.limit}"
    if args.action == "show":
        if not args.job_id:
            raise CliError("dead-letters show: which job? give its id (see `dead-letters list`)")
        return "GET", f"{PREFIX}/{args.job_id}"
    if bool(args.job_id) == bool(args.all):
        raise CliError(f"dead-letters {args.action}: give one job id, or --all (not both)")
    method = "POST" if args.action == "replay" else "DELETE"
    if args.action == "replay":
        return method, f"{PREFIX}/replay" if args.all else f"{PREFIX}/{args.job_id}/replay"
    return method, PREFIX if args.all else f"{PREFIX}/{args.job_id}"


def _run(args: argparse.Namespace) -> int:
    import httpx

    method, path = _request(args)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    try:
        r = httpx.request(method, args.url.rstrip("/") + path, headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the reference app at {args.url}: {type(exc).__name__}: {exc}") from None
    try:
        body = r.json()
    except ValueError:
        raise CliError(f"{args.url}{path}: HTTP {r.status_code}, not JSON: {r.text[:200]}") from None
    if r.status_code >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise CliError(f"{args.url}{path}: HTTP {r.status_code}: {err.get('message', body)}")
    if args.action == "list":
        print(f"{body['count']} dead letters" + (f", oldest {body['oldest_age_s']:.0f} s old"
                                                 if body["oldest_age_s"] is not None else ""))
        for item in body["items"]:
            print(f"{item['job_id']}  {item['tenant']}/{item['doc_id']}  attempts={item['attempts']}  {item['error']}")
    else:
        print(json.dumps(body, indent=2))
    return 0
