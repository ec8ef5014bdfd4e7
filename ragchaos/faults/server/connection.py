"""One client connection through a proxy: two sockets, two links (upstream and downstream)."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from typing import TYPE_CHECKING

from ragchaos.faults.server.calls import ConnectionTap
from ragchaos.faults.server.link import Link
from ragchaos.faults.toxics.base import NeedsLinger

if TYPE_CHECKING:
    from ragchaos.faults.server.proxy import ProxyServer

__all__ = ["ClientSide", "Connection", "UpstreamSide"]


class _Side(asyncio.Protocol):
    """One socket of a connection; its reads feed one link, its write buffer throttles the other."""

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.transport: asyncio.Transport | None = None
        self.reads: Link | None = None  # the link this socket is the source of
        self.writes: Link | None = None  # the link this socket is the destination of
        self.lost = False
        # reads that arrive before the links exist (uvloop may deliver them even while paused)
        self.early: list[bytes] = []
        self.early_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # TCP: asyncio and uvloop hand a Transport

    def data_received(self, data: bytes) -> None:
        if self.reads is not None:
            self.reads.feed(data)
        else:
            self.early.append(data)

    def eof_received(self) -> bool:
        if self.reads is not None:
            self.reads.feed_eof()
        else:
            self.early_eof = True
        return True  # keep the socket open for writing: the close comes through the chain

    def pause_writing(self) -> None:
        if self.writes is not None:
            self.writes.sink.pause()

    def resume_writing(self) -> None:
        if self.writes is not None:
            self.writes.sink.resume()

    def attach(self, conn: Connection, reads: Link, writes: Link) -> None:
        self.conn, self.reads, self.writes = conn, reads, writes
        for data in self.early:
            reads.feed(data)
        self.early.clear()
        if self.early_eof:
            reads.feed_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.writes is not None:
            self.writes.sink.closed = True
        if self.reads is not None:
            self.reads.feed_eof()
        if self.conn is not None:
            self.conn.side_lost()


class UpstreamSide(_Side):
    pass


class ClientSide(_Side):
    """Accepted from a client: holds reads until the upstream is connected, then builds the links."""

    def __init__(self, proxy: ProxyServer) -> None:
        super().__init__()
        self.proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.pause_reading()  # type: ignore[attr-defined]  # TCP: a Transport (see connection_made above)
        self.proxy.loop.create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        assert self.transport is not None
        host, port = self.proxy.upstream_addr()
        try:
            _, upstream = await self.proxy.loop.create_connection(UpstreamSide, host, port)
        except (OSError, ValueError):
            self.transport.close()  # as Toxiproxy: the client sees EOF at once
            if self.proxy.calls is not None:
                ConnectionTap.refused(self.proxy.calls, self.proxy.name, time.time())
            return
        if self.lost or not self.proxy.running:
            if upstream.transport is not None:  # set in connection_made, before create_connection returns
                upstream.transport.close()
            if not self.lost:
                self.transport.close()
            return
        Connection(self.proxy, self, upstream)
        self.transport.resume_reading()


class Connection:
    def __init__(self, proxy: ProxyServer, client: ClientSide, upstream: UpstreamSide) -> None:
        self.proxy = proxy
        self.loop = proxy.loop
        self.client = client
        self.upstream = upstream
        ct, ut = client.transport, upstream.transport
        assert ct is not None and ut is not None
        chains = proxy.toxics.chains()
        if any(isinstance(w.toxic, NeedsLinger) and w.toxic.wants_reset() for c in chains.values() for w in c):
            # Toxiproxy sets linger 0 only for toxics present when the link starts (see reset_peer)
            for transport in (ct, ut):
                _linger_zero(transport)
        rng: random.Random = proxy.rng
        self.links = {
            "upstream": Link(self, "upstream", ct, ut, chains["upstream"], rng),
            "downstream": Link(self, "downstream", ut, ct, chains["downstream"], rng),
        }
        # the call timing sees what the client sent (before toxics) and what it got (after them)
        self.tap = ConnectionTap(proxy.name, proxy.calls) if proxy.calls is not None else None
        if self.tap is not None:
            self.links["upstream"].on_read = self.tap.client_bytes
            self.links["downstream"].sink.on_write = self.tap.server_bytes
        proxy.connections.add(self)
        client.attach(self, self.links["upstream"], self.links["downstream"])
        upstream.attach(self, self.links["downstream"], self.links["upstream"])
        if client.lost or upstream.lost:  # one side went away before the links existed
            for side in (client, upstream):
                if side.lost:
                    side.connection_lost(None)

    def linger_zero(self) -> None:
        for transport in (self.client.transport, self.upstream.transport):
            if transport is not None:
                _linger_zero(transport)

    def side_lost(self) -> None:
        if self.client.lost and self.upstream.lost:
            for link in self.links.values():
                link.stop()
            self.proxy.connections.discard(self)
            if self.tap is not None:
                self.tap.closed()

    def close(self) -> None:
        """Disable, delete, or a listen/upstream change: both sockets closed now, as Toxiproxy does."""
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.lost:
                side.transport.abort()
        for link in self.links.values():
            link.stop()
        self.proxy.connections.discard(self)
        if self.tap is not None:
            self.tap.closed()


def _linger_zero(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
