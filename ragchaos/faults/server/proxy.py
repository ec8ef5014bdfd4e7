"""A proxy (listen → upstream), its toxics, and the collection of proxies: Toxiproxy's proxy.go,
toxic_collection.go and proxy_collection.go.

Errors are raised as ``ApiError(message, status)``; anything else the API turns into a 500
with the error's text, as Toxiproxy's ``apiError`` does.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import socket
from typing import Any

from ragchaos.faults.server.calls import CallLog
from ragchaos.faults.server.connection import ClientSide, Connection
from ragchaos.faults.toxics import UnknownToxic, new_toxic
from ragchaos.faults.toxics.base import AttributeTypeError, ToxicWrapper

__all__ = ["ApiError", "ProxyCollection", "ProxyServer", "ToxicCollection"]

DIRECTIONS = ("upstream", "downstream")


class ApiError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ServerFailure(Exception):
    """A Go error that is not an ApiError: the API answers 500 with its text."""


BAD_BODY = "bad request body"


def bad_body(detail: str) -> ApiError:
    return ApiError(f"{BAD_BODY}: {detail}", 400)


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error texts."""
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise ServerFailure(f"address {addr}: missing ']' in address")
        host, rest = addr[1:end], addr[end + 1:]
        if not rest.startswith(":"):
            raise ServerFailure(f"address {addr}: missing port in address")
        return host, rest[1:]
    if ":" not in addr:
        raise ServerFailure(f"address {addr}: missing port in address")
    host, port = addr.rsplit(":", 1)
    if ":" in host:
        raise ServerFailure(f"address {addr}: too many colons in address")
    return host, port


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_listen(listen: str, allow_remote: bool) -> tuple[str, int]:
    """``localhost:X`` → ``127.0.0.1``, X; an empty host means loopback here (never all interfaces)."""
    host, port_text = split_host_port(listen) if listen else ("", "0")
    try:
        port = int(port_text) if port_text else 0
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise ServerFailure(f"listen tcp: address {port_text}: invalid port") from None
    if host in ("", "localhost"):
        return "127.0.0.1", port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.ip_address(socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
        except (OSError, IndexError):
            raise ServerFailure(f"listen tcp: lookup {host}: no such host") from None
    if not ip.is_loopback and not allow_remote:
        raise ApiError(f"listen tcp {join_host_port(str(ip), port)}: bind: cannot assign requested address "
                       "(this server binds loopback addresses only; start it with --allow-remote)", 400)
    return str(ip), port


class ToxicCollection:
    """The toxics of one proxy, per direction in the order added; changes reach live links at once."""

    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy
        self._chains: dict[str, list[ToxicWrapper]] = {d: [] for d in DIRECTIONS}

    def chains(self) -> dict[str, list[ToxicWrapper]]:
        return {d: list(c) for d, c in self._chains.items()}

    def all(self) -> list[ToxicWrapper]:
        return self._chains["upstream"] + self._chains["downstream"]

    def find(self, name: str) -> ToxicWrapper | None:
        return next((w for w in self.all() if w.name == name), None)

    def get(self, name: str) -> ToxicWrapper:
        wrapper = self.find(name)
        if wrapper is None:
            raise ApiError("toxic not found", 404)
        return wrapper

    def add(self, body: Any) -> ToxicWrapper:
        if not isinstance(body, dict):
            raise bad_body(f"json: cannot unmarshal {json_kind(body)} into Go value of type toxics.ToxicWrapper")
        name = typed(body, "name", str, "ToxicWrapper", "string", "")
        type_name = typed(body, "type", str, "ToxicWrapper", "string", "")
        stream = typed(body, "stream", str, "ToxicWrapper", "string", "downstream")
        toxicity = typed(body, "toxicity", (int, float), "ToxicWrapper", "float32", 1.0)
        attributes = body.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise bad_body(
                f"json: cannot unmarshal {json_kind(attributes)} into Go struct field ToxicWrapper.attributes"
            )
        if stream.lower() not in DIRECTIONS:
            raise ApiError("stream was invalid, can be either upstream or downstream", 400)
        if not name:
            name = f"{type_name}_{stream}"  # from the stream as sent, as Toxiproxy does
        try:
            toxic = new_toxic(type_name, None)
        except UnknownToxic:
            raise ApiError("invalid toxic type", 400) from None
        if self.find(name) is not None:
            raise ApiError("toxic already exists", 409)
        try:
            toxic = toxic.merged(attributes)
        except AttributeTypeError as exc:
            raise bad_body(str(exc)) from None
        problem = toxic.check()
        if problem:
            raise ApiError(f"{BAD_BODY}: {problem}", 400)
        wrapper = ToxicWrapper(name, type_name, stream, float(toxicity), toxic)
        self._chains[wrapper.direction].append(wrapper)
        for conn in list(self.proxy.connections):
            conn.links[wrapper.direction].add(wrapper)
        return wrapper

    def update(self, name: str, body: Any) -> ToxicWrapper:
        old = self.get(name)
        if not isinstance(body, dict):
            raise bad_body(f"json: cannot unmarshal {json_kind(body)} into Go value of type struct")
        toxicity = typed(body, "toxicity", (int, float), "", "float32", old.toxicity)
        attributes = body.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise bad_body(f"json: cannot unmarshal {json_kind(attributes)} into Go struct field .attributes")
        try:
            toxic = old.toxic.merged(attributes)  # a merge: attributes left out keep their values
        except AttributeTypeError as exc:
            raise bad_body(str(exc)) from None
        problem = toxic.check()
        if problem:
            raise ApiError(f"{BAD_BODY}: {problem}", 400)
        new = ToxicWrapper(old.name, old.type, old.stream, float(toxicity), toxic)
        chain = self._chains[old.direction]
        chain[chain.index(old)] = new
        for conn in list(self.proxy.connections):
            conn.links[old.direction].update(old, new)
        return new

    def remove(self, name: str) -> None:
        wrapper = self.get(name)
        self._chains[wrapper.direction].remove(wrapper)
        for conn in list(self.proxy.connections):
            conn.links[wrapper.direction].remove(wrapper)

    def reset(self) -> None:
        for wrapper in self.all():
            self.remove(wrapper.name)

    def to_json(self) -> list[dict[str, Any]]:
        return [w.to_json() for w in self.all()]


class ProxyServer:
    def __init__(
        self, name: str, listen: str, upstream: str, *, loop: asyncio.AbstractEventLoop, rng: random.Random,
        allow_remote: bool = False, calls: CallLog | None = None,
    ) -> None:
        self.name = name
        self.calls = calls  # where its connections' call timing goes (None: not timed)
        self.listen = listen
        self.upstream = upstream
        self.loop = loop
        self.rng = rng
        self.allow_remote = allow_remote
        self.server: asyncio.Server | None = None
        self.connections: set[Connection] = set()
        self.toxics = ToxicCollection(self)

    @property
    def running(self) -> bool:
        return self.server is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.running,
            "Logger": {},
            "toxics": self.toxics.to_json(),
        }

    def upstream_addr(self) -> tuple[str, int]:
        host, port = split_host_port(self.upstream)
        return host or "127.0.0.1", int(port)

    def resolved_listen(self, listen: str) -> str:
        host, port = resolve_listen(listen, self.allow_remote)
        return join_host_port(host, port)

    def differs(self, listen: str, upstream: str) -> bool:
        return self.listen != self.resolved_listen(listen) or self.upstream != upstream

    async def start(self) -> None:
        if self.server is not None:
            raise ApiError("proxy already started", 409)  # only /reset sees this, and ignores it
        try:
            host, port = resolve_listen(self.listen, self.allow_remote)
        except ServerFailure as exc:  # Go's net.Listen names itself: "listen tcp: address x: missing port in address"
            text = str(exc)
            raise ServerFailure(text if text.startswith("listen tcp") else f"listen tcp: {text}") from None
        try:
            self.server = await self.loop.create_server(
                lambda: ClientSide(self), host, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            text = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
            raise ServerFailure(f"listen tcp {join_host_port(host, port)}: bind: {text}") from None
        sockname = self.server.sockets[0].getsockname()
        self.listen = join_host_port(sockname[0], sockname[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for conn in list(self.connections):
            conn.close()

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        if self.differs(listen, upstream):
            self.stop()
            self.listen = listen
            self.upstream = upstream
        if enabled != self.running:
            if enabled:
                await self.start()
            else:
                self.stop()


class ProxyCollection:
    def __init__(self, loop: asyncio.AbstractEventLoop, rng: random.Random, allow_remote: bool = False,
                 calls: CallLog | None = None) -> None:
        self.loop = loop
        self.rng = rng
        self.allow_remote = allow_remote
        self.calls = calls
        self.proxies: dict[str, ProxyServer] = {}
        self.lock = asyncio.Lock()

    def new(self, name: str, listen: str, upstream: str) -> ProxyServer:
        return ProxyServer(name, listen, upstream, loop=self.loop, rng=self.rng, allow_remote=self.allow_remote,
                           calls=self.calls)

    def get(self, name: str) -> ProxyServer:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError("proxy not found", 404) from None

    async def add(self, proxy: ProxyServer, start: bool) -> None:
        if proxy.name in self.proxies:
            raise ApiError("proxy already exists", 409)
        if start:
            await proxy.start()
        self.proxies[proxy.name] = proxy

    async def add_or_replace(self, proxy: ProxyServer, start: bool) -> ProxyServer:
        existing = self.proxies.get(proxy.name)
        if existing is not None:
            if not existing.differs(proxy.listen, proxy.upstream):
                return existing  # kept untouched: toxics, connections and enabled state
            existing.stop()
        if start:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    def remove(self, name: str) -> None:
        proxy = self.get(name)
        proxy.stop()
        del self.proxies[name]

    async def reset(self) -> None:
        for proxy in list(self.proxies.values()):
            if not proxy.running:
                await proxy.start()
            proxy.toxics.reset()

    def stop_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()


# -- decoding the way Go's encoding/json would, for the error texts ---------------------------
def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}.get(type(value), "value")


_FLOAT32_MAX = 3.4028234663852886e38


def typed(body: dict[str, Any], key: str, types: Any, struct: str, go_type: str, default: Any) -> Any:
    """``body[key]`` if of the right JSON type, ``default`` if absent or null, else a 400."""
    value = body.get(key)
    if value is None:
        return default
    where = f"{struct}.{key}" if struct else key
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in _as_tuple(types)):
        if go_type == "float32" and not abs(value) <= _FLOAT32_MAX:  # Go: out of range is a 400
            raise bad_body(f"json: cannot unmarshal number {value} into Go struct field {where} of type {go_type}")
        return value
    raise bad_body(f"json: cannot unmarshal {json_kind(value)} into Go struct field {where} of type {go_type}")


def _as_tuple(types: Any) -> tuple[Any, ...]:
    return types if isinstance(types, tuple) else (types,)
