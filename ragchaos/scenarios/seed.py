"""Load the scenario's corpus into each app through its own API before the load starts.

Documents go to ``POST /v1/documents`` a few at a time. The naive app answers once a document
is indexed; the reference app answers 202 with a job id once it is durably queued, so we poll
``GET /v1/jobs/{id}`` until every job is done. Works for any target that speaks the app API.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from ragchaos.scenarios.corpus import Document
from ragchaos.scenarios.requests import RequestSpec
from ragchaos.stack.targets import BUILTIN_TARGETS
from ragchaos.stack.templates import RequestTemplate, extract

__all__ = ["SeedError", "enforce_provider_limits", "reset_provider_limits", "seed_app"]


class SeedError(RuntimeError):
    pass


def _post(url: str, body: object, timeout: float, method: str = "POST",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"error": raw.decode(errors="replace")[:200]}


def enforce_provider_limits(provider_url: str, enforced: bool, timeout: float = 10.0) -> None:
    """Turn the provider's rate limiter off (while seeding: setup, not the test) or back on."""
    req = urllib.request.Request(f"{provider_url}/_control/limits", data=json.dumps({"enforced": enforced}).encode(),
                                 method="PUT", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise SeedError(f"{provider_url}: cannot set the rate limits to enforced={enforced}: {exc}") from None


def reset_provider_limits(provider_url: str, key: str, timeout: float = 10.0) -> None:
    """Refill ``key``'s rate-limit buckets (``POST /_control/limits/reset``, docs/contracts.md)."""
    status, body = _post(f"{provider_url}/_control/limits/reset", {"key": key}, timeout=timeout)
    if status != 200:
        raise SeedError(f"{provider_url}: resetting the rate limits of key {key!r} answered {status}: {body}")


def _get(url: str, timeout: float, headers: dict[str, str] | None = None) -> dict[str, object]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as resp:
        return json.loads(resp.read())


def _parallel(fn: Callable[[Document], str | None], docs: Sequence[Document], n: int) -> list[str]:
    """``fn`` over ``docs`` on ``n`` daemon threads: an interrupted run must not wait for them
    at exit (``concurrent.futures`` joins its threads at interpreter exit)."""
    todo: queue.Queue[Document] = queue.Queue()
    for d in docs:
        todo.put(d)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while not errors:
            try:
                doc = todo.get_nowait()
            except queue.Empty:
                return
            try:
                job = fn(doc)
            except BaseException as exc:  # handed to the caller's thread below
                with lock:
                    errors.append(exc)
                return
            if job:
                with lock:
                    results.append(job)

    threads = [threading.Thread(target=worker, daemon=True, name=f"seed-{i}") for i in range(max(1, n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def seed_app(
    base_url: str,
    documents: Sequence[Document],
    *,
    parallel: int = 8,
    timeout_s: float = 120.0,
    attempts: int = 40,
    request_timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    template: RequestTemplate | None = None,
    target: str = "",
) -> int:
    """Index every document in the app; returns how many. Raises SeedError if one cannot be.

    ``template`` is the target's ingest template (default: our apps' ``POST /v1/documents``);
    a 202 answer's job (the template's ``job`` path) is polled at its ``job_poll`` path."""
    deadline = time.monotonic() + timeout_s
    template = template or BUILTIN_TARGETS["reference"].ingest
    job_headers: dict[str, dict[str, str]] = {}

    def one(doc: Document) -> str | None:
        # every message names the document, the endpoint that refused it and what it answered
        what = f"{target + ': ' if target else ''}seeding document {doc.doc_id!r} (tenant {doc.tenant})"
        for attempt in range(attempts):
            method, path, payload, headers = RequestSpec("ingest", doc.tenant, document=doc).render(
                target, template, 0)
            try:
                status, body = _post(f"{base_url}{path}", payload, request_timeout_s, method, headers)
            except (urllib.error.URLError, OSError) as exc:  # a slow start: try again, then give up
                if attempt == attempts - 1:
                    raise SeedError(f"{what}: {method} {base_url}{path} failed: {exc}") from None
                sleep(min(0.25 * 2**attempt, 4.0))
                continue
            if status in (200, 201):
                return None
            if status == 202 and template.job and template.job_poll:
                jobs = extract(body, template.job)
                if jobs:
                    job_headers[str(jobs[0])] = headers  # a job is polled as its tenant
                return str(jobs[0]) if jobs else None
            if 200 <= status < 300:
                return None
            if status in (429, 503) or status >= 500:
                # busy (e.g. an app without retries meeting the provider's rate limit while
                # ingesting chunk by chunk): seeding must not depend on luck, so it waits and retries
                sleep(min(0.25 * 2**attempt, 2.0))
                continue
            raise SeedError(f"{what}: {method} {base_url}{path} answered {status}: {str(body)[:300]}")
        raise SeedError(f"{what}: {method} {base_url}{path} not accepted after {attempts} attempts "
                        f"(last answer {status}: {str(body)[:200]})")

    jobs = _parallel(one, documents, parallel)
    pending = set(jobs)
    while pending:
        if time.monotonic() > deadline:
            raise SeedError(f"{base_url}: {len(pending)} ingest jobs not done after {timeout_s:.0f}s")
        for job in list(pending):
            try:
                poll = str(template.job_poll).replace("{job_id}", job)
                state = str(_get(f"{base_url}{poll}", timeout=10.0, headers=job_headers.get(job)).get("state", ""))
            except (urllib.error.URLError, OSError):
                continue  # asked again on the next round, until the deadline
            if state in ("done", "succeeded", "indexed", "complete", "completed"):
                pending.discard(job)
            elif state in ("failed", "error", "dead"):
                raise SeedError(f"{base_url}: ingest job {job} failed")
        if pending:
            sleep(0.2)
    return len(documents)
