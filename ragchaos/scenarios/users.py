"""Locust users: one class per app, built at run time, all sending through ``RunContext.finish``.

- ``ClosedUser``: draws its next request from its own seeded ``RequestSource``, sends it,
  waits ``think_time``, repeats (Locust's closed model; intended time = actual send time).
- ``OpenUser``: a pool of these per app takes requests off the app's queue, which the open
  model's dispatcher fills at each request's intended time (``scenarios.openmodel``); a request
  is timed from its intended time and from its actual send.

Locust's own stats still see every request (its web UI works), but every figure we report
comes from ``reports.recorder`` via the context, never from Locust's rounded buckets.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import gevent
from gevent.queue import Queue
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.requests import RequestSource, RequestSpec

__all__ = ["ClosedUser", "OpenUser", "closed_user_class", "open_user_class", "send"]

_user_ids = itertools.count()


def send(user: FastHttpUser, ctx: RunContext, app: str, spec: RequestSpec, intended: float | None) -> str:
    """One request through the user's FastHttp client, recorded in the context."""
    method, path, body, req_headers = ctx.request(app, spec)
    streamed = spec.kind == "query" and ctx.stream
    actual = time.time()
    status, headers, content, error, ttft = 0, None, None, None, None
    try:
        with user.client.request(method, path, json=body, headers=req_headers or None, name=f"{app} {spec.kind}",
                                 catch_response=True, stream=streamed) as resp:
            status = int(resp.status_code or 0)
            headers = resp.headers
            error = getattr(resp, "error", None) if status == 0 else None
            if streamed and 200 <= status < 300:
                content, ttft, error = _read_stream(resp, actual)
                if error is not None:
                    status = 0  # cut mid-answer: an error, classified by its exception
            else:
                content = resp.content
            if 200 <= status < 400:
                resp.success()
            else:
                resp.failure(f"{status}" if status else f"{type(error).__name__}")
    except Exception as exc:  # a client error that escaped the context manager
        error = exc
    end = time.time()
    return ctx.finish(app, spec, intended=intended, actual=actual, end=end, status=status,
                      headers=headers, body=content, error=error, ttft=ttft)


def _read_stream(resp: Any, actual: float) -> tuple[bytes, float | None, BaseException | None]:
    """The streamed body, the time to its first bytes from the actual send (TTFT), and the error
    that cut it, if one did. Small reads, so the first event is seen when it arrives."""
    chunks: list[bytes] = []
    ttft = None
    try:
        for chunk in resp.iter_content(chunk_size=64, decode_content=False):
            if chunk and ttft is None:
                ttft = time.time() - actual
            chunks.append(chunk if isinstance(chunk, bytes) else str(chunk).encode())
    except Exception as exc:  # a reset or a closed connection mid-answer
        return b"".join(chunks), ttft, exc
    return b"".join(chunks), ttft, None


class ClosedUser(FastHttpUser):
    abstract = True
    ctx: RunContext
    app: str
    wait_time = constant(0)

    def on_start(self) -> None:
        self.source = RequestSource(self.ctx.bench, f"{self.app}-user-{next(_user_ids)}")

    @task
    def one(self) -> None:
        send(self, self.ctx, self.app, self.source.next(), None)


class OpenUser(FastHttpUser):
    abstract = True
    ctx: RunContext
    app: str
    queue: Queue
    on_done: Any  # the dispatcher's finished()
    wait_time = constant(0)

    @task
    def one(self) -> None:
        item = self.queue.get()
        if item is None:  # the dispatcher is done: idle until Locust stops us
            self.queue.put(None)
            gevent.sleep(0.5)
            return
        spec, intended = item
        try:
            send(self, self.ctx, self.app, spec, intended)
        finally:
            self.on_done()


def _timeouts(ctx: RunContext) -> dict[str, Any]:
    return {"network_timeout": ctx.timeout_s, "connection_timeout": min(ctx.timeout_s, 5.0), "max_retries": 0}


def closed_user_class(app: str, host: str | None, ctx: RunContext, think_time: float) -> type[ClosedUser]:
    """A closed-model user class of ``app``; ``host`` None: Locust's ``--host`` gives it."""
    attrs = {"host": host, "app": app, "ctx": ctx, "wait_time": constant(think_time), **_timeouts(ctx)}
    return type(f"{app.capitalize()}User", (ClosedUser,), attrs)


def open_user_class(app: str, host: str, ctx: RunContext, queue: Queue | None, on_done: Any, pool: int) -> type[OpenUser]:
    attrs = {"host": host, "app": app, "ctx": ctx, "queue": queue, "on_done": staticmethod(on_done),
             "fixed_count": pool, **_timeouts(ctx)}
    return type(f"{app.capitalize()}OpenUser", (OpenUser,), attrs)
