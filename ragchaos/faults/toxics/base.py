"""The toxic interface, the stub a toxic runs in, and the capability protocols.

A toxic is one class in one file, registered by name (``@register("latency")``), holding its
attributes and an ``async pipe(stub)``. The stub is one toxic on one link (one connection × one
direction): it hands the toxic chunks from its input, takes chunks for its output, and makes
every wait interruptible, because adding, updating or removing a toxic interrupts the stubs
it touches. Toxicity is rolled by the stub (``ToxicStub.run``), never by a toxic.

Rules for a toxic (see ragchaos/faults/CREATING_FAULTS.md):
- return from ``pipe`` when ``recv()``/``sleep()`` report ``INTERRUPTED``, after passing on
  any chunk you hold (in-flight bytes are flushed, never dropped, unless dropping is the toxic);
- a ``None`` chunk is EOF: call ``stub.close()`` (possibly later) and return;
- no waits other than ``stub.recv()`` and ``stub.sleep()``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ragchaos.faults.server.link import Link

__all__ = [
    "EOF",
    "INTERRUPTED",
    "TIMED_OUT",
    "AttributeTypeError",
    "Channel",
    "Chunk",
    "Cleanup",
    "NeedsLinger",
    "Rerolled",
    "Stateful",
    "Toxic",
    "ToxicStub",
    "ToxicWrapper",
]


class Chunk:
    """Bytes from one ``read()`` and the loop time they were received."""

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts


EOF = None
MAX_WAIT_S = 365 * 24 * 3600.0


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


INTERRUPTED = _Signal("INTERRUPTED")
TIMED_OUT = _Signal("TIMED_OUT")
_WAKE = _Signal("WAKE")


class AttributeTypeError(ValueError):
    """An attribute of the wrong JSON type (the API answers 400 ``bad request body: ...``)."""


class Toxic:
    """Base: attributes are the class's annotated int fields, in order (that is the JSON order)."""

    go_name: ClassVar[str] = "Toxic"  # for error texts like Go's "Go struct field LatencyToxic.attributes.x"
    type_name: ClassVar[str] = ""

    @classmethod
    def attribute_names(cls) -> list[str]:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, ann in getattr(klass, "__annotations__", {}).items():
                if not name.startswith("_") and "ClassVar" not in str(ann) and name not in names:
                    names.append(name)
        return names

    def attributes(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.attribute_names()}

    def merged(self, updates: dict[str, Any] | None) -> Toxic:
        """A copy with ``updates`` decoded into it (Go decodes into the existing struct: a merge)."""
        fresh = type(self)()
        for name in self.attribute_names():
            setattr(fresh, name, getattr(self, name))
        for name in self.attribute_names():
            if updates and name in updates and updates[name] is not None:  # JSON null leaves a Go int alone
                value = updates[name]
                if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
                    raise AttributeTypeError(
                        f"json: cannot unmarshal number {value} into Go struct field {self.go_name}.attributes.{name} of type int64"
                    )
                if isinstance(value, bool) or not isinstance(value, int):
                    kind = {str: "string", bool: "bool", float: "number", list: "array", dict: "object"}.get(
                        type(value), "value"
                    )
                    shown = f"number {value}" if kind == "number" else kind
                    raise AttributeTypeError(
                        f"json: cannot unmarshal {shown} into Go struct field {self.go_name}.attributes.{name} of type int64"
                    )
                setattr(fresh, name, value)
        return fresh

    def check(self) -> str | None:
        """A reason to refuse these attributes, or None. The real Toxiproxy validates no attribute,
        so no built-in toxic refuses any: each guards its own data path against every value instead."""
        return None

    async def pipe(self, stub: ToxicStub) -> None:  # pragma: no cover - every toxic overrides it
        raise NotImplementedError


@runtime_checkable
class Stateful(Protocol):
    """Keeps per-link state across restarts (an update); e.g. limit_data's byte count."""

    def new_state(self) -> Any: ...


@runtime_checkable
class Cleanup(Protocol):
    """Does something when removed from a live link; e.g. timeout closes the connection."""

    def cleanup(self, stub: ToxicStub) -> None: ...


@runtime_checkable
class NeedsLinger(Protocol):
    """Wants SO_LINGER 0 on the connection's sockets, so its close is an RST."""

    def wants_reset(self) -> bool: ...


@runtime_checkable
class Rerolled(Protocol):
    """Has toxicity rolled again on each link every so often, not only when it starts on it;
    e.g. reset_churn, so long-lived pooled connections are hit too."""

    def reroll_after_s(self) -> float: ...


class ToxicWrapper:
    """The envelope around a toxic: name, type, stream (as sent), toxicity. Shared by every link."""

    __slots__ = ("name", "type", "stream", "direction", "toxicity", "toxic")

    def __init__(self, name: str, type: str, stream: str, toxicity: float, toxic: Toxic) -> None:
        self.name = name
        self.type = type
        self.stream = stream
        self.direction = stream.lower()
        self.toxicity = toxicity
        self.toxic = toxic

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.toxic.attributes(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": _float32_json(self.toxicity),
        }


def _float32_json(value: float) -> float | int:
    """As Go marshals a float32: 1 for 1.0, 0.2 for 0.2 (the shortest text that reads back)."""
    import struct

    f32 = struct.unpack("f", struct.pack("f", value))[0]
    if f32 == int(f32) and abs(f32) < 1e15:
        return int(f32)
    for digits in range(1, 10):
        text = f"{f32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            return float(text)
    return f32


class Channel:
    """An unbounded FIFO with one consumer (a stub) whose wait can be interrupted."""

    __slots__ = ("items", "waiter", "discard")

    def __init__(self) -> None:
        self.items: collections.deque[Chunk | None] = collections.deque()
        self.waiter: asyncio.Future[Any] | None = None
        self.discard = False  # the stub reading it closed its output: nothing here will be read

    def put(self, item: Chunk | None) -> None:
        if self.discard:
            return
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(_WAKE)

    def __len__(self) -> int:
        return len(self.items)


class ToxicStub:
    """One toxic on one link: input channel, output (next channel or the sink), interruptible waits."""

    def __init__(self, link: Link, wrapper: ToxicWrapper, output: Any, rng: random.Random) -> None:
        self.link = link
        self.wrapper = wrapper
        self.input = Channel()
        self.output = output  # a Channel or the link's Sink; re-pointed when the chain changes
        self.rng = rng
        self.state: Any = None
        self.closed = False
        self.removing = False
        self.active: Toxic | None = None  # the toxic running now (a noop when toxicity said no)
        self._interrupted = False
        self._waiter: asyncio.Future[Any] | None = None
        self.task: asyncio.Task[None] | None = None

    # -- what a toxic calls -----------------------------------------------------------------
    async def recv(self, timeout: float | None = None) -> Any:
        """The next chunk, ``None`` for EOF, ``INTERRUPTED`` or (with a timeout) ``TIMED_OUT``."""
        while True:
            if self._interrupted:
                return INTERRUPTED
            if self.input.items:
                item = self.input.items.popleft()
                if self.link.head is self.input:
                    self.link.flow()
                return item
            result = await self._wait(timeout, channel=self.input)
            if result is not _WAKE:
                return result

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; False if interrupted first (the toxic must then flush and return)."""
        if self._interrupted:
            return False
        if seconds <= 0:
            return True
        return await self._wait(seconds) is TIMED_OUT

    async def wait_interrupt(self) -> None:
        """Wait for nothing but an interrupt (a stalled stream)."""
        while not self._interrupted:
            await self._wait(None)

    def send(self, chunk: Chunk) -> None:
        self.output.put(chunk)

    def close(self) -> None:
        """Pass EOF on and stop reading: the connection closes once it reaches the end."""
        if not self.closed:
            self.closed = True
            self.input.discard = True
            self.input.items.clear()
            self.output.put(EOF)

    def reset(self) -> None:
        """Close with an RST (linger 0), even on a connection that opened before this toxic."""
        self.link.linger_zero()
        self.close()

    @property
    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    # -- what the link calls ----------------------------------------------------------------
    def interrupt(self) -> None:
        self._interrupted = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(INTERRUPTED)

    async def run(self) -> None:
        """Run the toxic (or a noop, as toxicity decides) until EOF or removal; restart on update."""
        from ragchaos.faults.toxics.noop import NoopToxic

        toxic = self.wrapper.toxic
        if isinstance(toxic, Stateful):
            self.state = toxic.new_state()
        while True:
            self._interrupted = False
            wrapper = self.wrapper
            # rolled per link each time the stub (re)starts, as Toxiproxy's ToxicStub.Run does
            self.active = wrapper.toxic if self.rng.random() < wrapper.toxicity else NoopToxic()
            # a Rerolled toxic: interrupt whatever runs after its period, so the loop rolls again
            reroll = (asyncio.get_running_loop().call_later(wrapper.toxic.reroll_after_s(), self.interrupt)
                      if isinstance(wrapper.toxic, Rerolled) else None)
            try:
                await self.active.pipe(self)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken toxic must not wedge the connection: log it and close
                logging.getLogger("faults.toxics").exception("toxic %s failed; closing its link", wrapper.name)
                self.close()
                return
            finally:
                if reroll is not None:
                    reroll.cancel()
            if self.closed:
                return
            if self.removing:
                if isinstance(self.active, Cleanup):
                    self.active.cleanup(self)
                self.link.unlink(self)
                return
            # otherwise: interrupted for an update (or a Rerolled toxic's period): go round with
            # the current wrapper, rolling toxicity again

    async def _wait(self, timeout: float | None, channel: Channel | None = None) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiter = fut
        if channel is not None:
            channel.waiter = fut
        # the real server accepts any int64 of milliseconds; a wait past a year is a stall, not an overflow
        handle = loop.call_later(min(timeout, MAX_WAIT_S), _resolve, fut, TIMED_OUT) if timeout is not None else None
        try:
            return await fut
        finally:
            self._waiter = None
            if channel is not None and channel.waiter is fut:
                channel.waiter = None
            if handle is not None:
                handle.cancel()


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)
