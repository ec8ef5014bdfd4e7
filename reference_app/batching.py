"""Micro-batched embeddings: concurrent requests share one provider call.

Texts submitted within ``max_wait_s`` of each other (or until ``max_items`` inputs or
``max_chars`` characters are waiting) go out as one embeddings call; a text already waiting or
in flight is not sent twice; each caller gets its own vectors back through futures. A batch
runs with the longest deadline among its callers; each caller still waits no longer than its
own. The ``batching`` switch off sends each text on its own call, as the naive app does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reference_app.deadline import Deadline, DeadlineExceeded

__all__ = ["BatchConfig", "MicroBatcher"]

Vector = Any  # a float32 numpy array in the app, anything indexable in tests
EmbedMany = Callable[[list[str], Deadline], Awaitable[list[Vector]]]


@dataclass(frozen=True)
class BatchConfig:
    max_items: int = 64  # the provider takes up to 2048; smaller batches keep latency flat
    max_wait_s: float = 0.005
    max_chars: int = 400_000  # ~100k tokens, well under the 300k-token request limit


class MicroBatcher:
    def __init__(self, embed_many: EmbedMany, config: BatchConfig = BatchConfig(), *, enabled: bool = True) -> None:
        self._embed_many = embed_many
        self.config = config
        self.enabled = enabled
        self._pending: list[str] = []
        self._pending_chars = 0
        self._deadlines: list[Deadline] = []
        self._futures: dict[str, asyncio.Future[Vector]] = {}  # waiting or in flight
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches_sent = 0

    async def embed(self, texts: Sequence[str], deadline: Deadline) -> list[Vector]:
        if not self.enabled:
            out: list[Vector] = []
            for text in texts:  # one call per text: what batching saves
                out.extend(await self._embed_many([text], deadline))
            return out
        futures = [self._submit(t, deadline) for t in texts]
        waiting = asyncio.gather(*(asyncio.shield(f) for f in futures))
        remaining = deadline.remaining()
        if remaining == float("inf"):
            return list(await waiting)
        try:
            return list(await asyncio.wait_for(waiting, remaining))
        except TimeoutError:
            raise DeadlineExceeded("deadline passed while waiting for an embeddings batch") from None

    def _submit(self, text: str, deadline: Deadline) -> asyncio.Future[Vector]:
        fut = self._futures.get(text)
        if fut is not None:
            self._deadlines.append(deadline)
            return fut
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.add_done_callback(_retrieve)
        if self._pending and self._pending_chars + len(text) > self.config.max_chars:
            self._flush()
        self._futures[text] = fut
        self._pending.append(text)
        self._pending_chars += len(text)
        self._deadlines.append(deadline)
        if len(self._pending) >= self.config.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.config.max_wait_s, self._flush)
        return fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending, self._pending_chars = self._pending, [], 0
        deadlines, self._deadlines = self._deadlines, []
        longest = max(deadlines, key=lambda d: d.remaining())
        task = asyncio.ensure_future(self._run(batch, longest))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[str], deadline: Deadline) -> None:
        self.batches_sent += 1
        futures = [self._futures[t] for t in batch]
        try:
            vectors = await self._embed_many(batch, deadline)
            if len(vectors) != len(batch):
                raise RuntimeError(f"provider returned {len(vectors)} embeddings for {len(batch)} inputs")
            for fut, vec in zip(futures, vectors, strict=True):
                if not fut.done():
                    fut.set_result(vec)
        except BaseException as exc:
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise
        finally:
            for t in batch:
                self._futures.pop(t, None)


def _retrieve(fut: asyncio.Future[Vector]) -> None:
    if not fut.cancelled():
        fut.exception()  # a caller that gave up must not leave "exception never retrieved" noise
