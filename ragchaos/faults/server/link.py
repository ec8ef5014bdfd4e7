"""One direction of one connection: source socket → chain of toxic stubs → sink (destination socket).

With no toxics the chain is empty and every read is written straight to the destination, which
is what keeps the proxy's own overhead small. Adding a toxic appends a stub at the end (data
already past the chain is older, so order holds); removing one interrupts it, lets it flush,
moves what is left in its input on, and joins its neighbours. Flow control: reading from the
source pauses while the destination cannot keep up or the chain holds too much.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ragchaos.faults.toxics.base import Channel, Chunk, ToxicStub, ToxicWrapper

if TYPE_CHECKING:
    from ragchaos.faults.server.connection import Connection

__all__ = ["Link", "Sink"]

HEAD_HIGH = 1024  # chunks waiting at the chain's head (Toxiproxy's channel buffer)
SINK_HIGH = 1 << 20  # bytes waiting for a slow destination


class Sink:
    """The end of a chain: writes to the destination transport; EOF closes it.

    ``on_write``, when set, is shown every byte as it is written (the call timing's tap on the
    bytes a client receives, after every toxic)."""

    __slots__ = ("link", "transport", "queue", "queued_bytes", "paused", "closed", "on_write")

    def __init__(self, link: Link, transport: asyncio.Transport) -> None:
        self.link = link
        self.transport = transport
        self.queue: collections.deque[Chunk | None] = collections.deque()
        self.queued_bytes = 0
        self.paused = False  # the destination's write buffer is full
        self.closed = False
        self.on_write: Callable[[bytes], None] | None = None

    def write(self, data: bytes) -> None:
        self.transport.write(data)
        if self.on_write is not None:
            self.on_write(data)

    def put(self, item: Chunk | None) -> None:
        if self.closed:
            return
        if self.queue or self.paused:
            self.queue.append(item)
            if item is not None:
                self.queued_bytes += len(item.data)
            return
        if item is None:
            self._close()
        elif item.data:
            self.write(item.data)

    def pause(self) -> None:
        self.paused = True
        self.link.flow()

    def resume(self) -> None:
        self.paused = False
        while self.queue and not self.paused and not self.closed:
            item = self.queue.popleft()
            if item is None:
                self._close()
                break
            self.queued_bytes -= len(item.data)
            if item.data:
                self.write(item.data)
        self.link.flow()

    def _close(self) -> None:
        # full close, as Toxiproxy does: closing this socket ends the other direction too
        self.closed = True
        self.link.finished = True
        self.transport.close()


class Link:
    def __init__(
        self,
        conn: Connection,
        direction: str,
        source: asyncio.Transport,
        dest: asyncio.Transport,
        wrappers: list[ToxicWrapper],
        rng: random.Random,
    ) -> None:
        self.conn = conn
        self.direction = direction
        self.source = source
        self.sink = Sink(self, dest)
        self.rng = rng
        self.stubs: list[ToxicStub] = []
        self.head: Any = self.sink  # where reads go: the first stub's input, or the sink
        self.eof = False
        self.finished = False
        self.reading_paused = False
        # shown every byte read from the source (the call timing's tap on what a client sends,
        # before any toxic)
        self.on_read: Callable[[bytes], None] | None = None
        for wrapper in wrappers:
            self.add(wrapper)

    def linger_zero(self) -> None:
        """Make the connection's closing an RST from now on (a toxic added to a live connection,
        which Toxiproxy's start-time linger setting misses)."""
        self.conn.linger_zero()

    # -- data in ----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.on_read is not None:
            self.on_read(data)
        head = self.head
        if head is self.sink and not head.queue and not head.paused and not head.closed:
            head.write(data)  # the fast path: no toxics, nothing queued
            return
        head.put(Chunk(data, self.conn.loop.time()))
        self.flow()

    def feed_eof(self) -> None:
        if not self.eof:
            self.eof = True
            self.head.put(None)

    def flow(self) -> None:
        """Pause or resume reading the source, from how much is waiting."""
        head = self.head
        full = self.sink.paused or self.sink.queued_bytes >= SINK_HIGH or (
            isinstance(head, Channel) and len(head) >= HEAD_HIGH
        )
        if full != self.reading_paused and not self.eof:
            self.reading_paused = full
            try:
                if full:
                    self.source.pause_reading()
                else:
                    self.source.resume_reading()
            except (RuntimeError, AttributeError):
                pass  # the source is closing

    # -- the chain --------------------------------------------------------------------------
    def add(self, wrapper: ToxicWrapper) -> None:
        if self.finished:
            return
        stub = ToxicStub(self, wrapper, self.sink, self.rng)
        if self.stubs:
            self.stubs[-1].output = stub.input
        else:
            self.head = stub.input
        self.stubs.append(stub)
        stub.task = self.conn.loop.create_task(stub.run())

    def update(self, old: ToxicWrapper, new: ToxicWrapper) -> None:
        for stub in self.stubs:
            if stub.wrapper is old:
                stub.wrapper = new
                stub.interrupt()  # restarts with the new attributes and a new toxicity roll

    def remove(self, wrapper: ToxicWrapper) -> None:
        for stub in self.stubs:
            if stub.wrapper is wrapper and not stub.removing:
                stub.removing = True
                stub.interrupt()  # the stub flushes, then calls unlink()

    def unlink(self, stub: ToxicStub) -> None:
        """Take a stopped stub out of the chain; whatever it had not read yet moves on, in order."""
        if stub not in self.stubs:
            return
        index = self.stubs.index(stub)
        if not stub.closed:
            while stub.input.items:
                stub.output.put(stub.input.items.popleft())
        if index == 0:
            self.head = stub.output
        else:
            self.stubs[index - 1].output = stub.output
        self.stubs.pop(index)
        stub.input.discard = True
        self.flow()

    def stop(self) -> None:
        """The connection is gone: stop every stub."""
        self.finished = True
        for stub in self.stubs:
            if stub.task is not None and not stub.task.done():
                stub.task.cancel()
        self.stubs.clear()
