"""Micro-batched embeddings: concurrent requests share one provider call.

Texts submitted within ``max_wait_s`` of each other (or until ``max_items`` inputs or
``max_chars`` characters are waiting) go out as one embeddings call; a text already waiting or
in flight is not sent twice; each caller gets its own vectors back through futures. A batch
runs with the longest deadline among its callers; each caller still waits no longer than its
own. The ``batching`` switch off sends each text on its own call, as the naive app does.

Group commit (``max_concurrent``): at most that many calls are in flight at once (the app
sets it to the embeddings bulkhead's size). Texts that arrive while they are all busy wait and
leave together, in as few calls as ``max_items`` allows, when one returns. At low load nothing
changes (a call is rarely in flight when the next text comes); under load, when the provider is
slow or paced, the calls per text fall exactly when calls are scarce, and no batch ever queues
at the bulkhead behind another. A text whose callers' deadlines all passed while it waited is
not sent.

A batch refused because of one of its texts (``refused(exc)``: the provider's 400 for an input
over the model's limit) is split and sent again, its longest text alone first, down to the text
that is refused, so one caller's poison never fails another caller's texts that merely shared
its call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ragchaos.reference_app.deadline import Deadline, DeadlineExceeded

__all__ = ["BatchConfig", "MicroBatcher"]

Vector = Any  # a float32 numpy array in the app, anything indexable in tests
EmbedMany = Callable[[list[str], Deadline], Awaitable[list[Vector]]]


@dataclass(frozen=True)
class BatchConfig:
    max_items: int = 64  # the provider takes up to 2048; smaller batches keep latency flat
    max_wait_s: float = 0.005
    max_chars: int = 400_000  # ~100k tokens, well under the 300k-token request limit
    max_concurrent: int | None = None  # calls in flight at once; None: no cap (group commit off)


class MicroBatcher:
    def __init__(
        self,
        embed_many: EmbedMany,
        config: BatchConfig = BatchConfig(),
        *,
        enabled: bool = True,
        refused: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self._embed_many = embed_many
        self._refused = refused
        self.config = config
        self.enabled = enabled
        self._pending: dict[str, Deadline] = {}  # text -> the longest deadline among its callers
        self._pending_chars = 0
        self._futures: dict[str, asyncio.Future[Vector]] = {}  # waiting or in flight
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
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
            waiting = self._pending.get(text)
            if waiting is not None and deadline.remaining() > waiting.remaining():
                self._pending[text] = deadline
            return fut
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.add_done_callback(_retrieve)
        if self._pending and self._pending_chars + len(text) > self.config.max_chars:
            self._flush()
        self._futures[text] = fut
        self._pending[text] = deadline
        self._pending_chars += len(text)
        if len(self._pending) >= self.config.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.config.max_wait_s, self._flush)
        return fut

    @property
    def _busy(self) -> bool:
        cap = self.config.max_concurrent
        return cap is not None and self._in_flight >= cap

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # with every call slot busy the texts stay pending; ``_run`` flushes when a call returns
        while self._pending and not self._busy:
            batch = self._take()
            if not batch:
                continue
            longest = max((d for _, d in batch), key=lambda d: d.remaining())
            self._in_flight += 1
            task = asyncio.ensure_future(self._run([t for t, _ in batch], longest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[str, Deadline]]:
        """The next batch off the pending texts (in arrival order, within the size limits);
        texts nobody waits for any more are dropped, their futures failed."""
        batch: list[tuple[str, Deadline]] = []
        chars = 0
        for text, deadline in list(self._pending.items()):
            if batch and (len(batch) >= self.config.max_items or chars + len(text) > self.config.max_chars):
                break
            del self._pending[text]
            self._pending_chars -= len(text)
            if deadline.remaining() <= 0:
                fut = self._futures.pop(text)
                if not fut.done():
                    fut.set_exception(DeadlineExceeded("deadline passed while waiting for an embeddings batch"))
                continue
            batch.append((text, deadline))
            chars += len(text)
        return batch

    async def _run(self, batch: list[str], deadline: Deadline) -> None:
        futures = [self._futures[t] for t in batch]
        try:
            await self._send(batch, futures, deadline)
        except BaseException as exc:
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise
        finally:
            for t in batch:
                self._futures.pop(t, None)
            self._in_flight -= 1
            if self._pending and self._timer is None:
                self._flush()

    async def _send(self, batch: list[str], futures: list[asyncio.Future[Vector]], deadline: Deadline) -> None:
        self.batches_sent += 1
        try:
            vectors = await self._embed_many(batch, deadline)
        except Exception as exc:
            if len(batch) < 2 or not self._refused(exc):
                raise
            # the longest text is the likeliest refusal (an input over the model's limit): try it
            # alone, the rest together; the poison is sent twice, not once per level of a bisection
            longest = max(range(len(batch)), key=lambda k: len(batch[k]))
            rest = [k for k in range(len(batch)) if k != longest]
            for part in ([longest], rest):
                texts, futs = [batch[k] for k in part], [futures[k] for k in part]
                try:
                    await self._send(texts, futs, deadline)
                except Exception as inner:
                    for fut in futs:
                        if not fut.done():
                            fut.set_exception(inner)
            return
        if len(vectors) != len(batch):
            raise RuntimeError(f"provider returned {len(vectors)} embeddings for {len(batch)} inputs")
        for fut, vec in zip(futures, vectors, strict=True):
            if not fut.done():
                fut.set_result(vec)


def _retrieve(fut: asyncio.Future[Vector]) -> None:
    if not fut.cancelled():
        fut.exception()  # a caller that gave up must not leave "exception never retrieved" noise
