"""The Toxiproxy 2.12.0 HTTP API: routes, middleware and the exact response conventions.

Handlers only decode, check and delegate to ``ProxyCollection``; ``_json``, ``_error`` and
``_route`` hold the response boilerplate once (Toxiproxy repeats it in every handler).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from ragchaos.faults.server.http import Request, Response
from ragchaos.faults.server.proxy import ApiError, ProxyCollection, ServerFailure, bad_body, json_kind, typed

__all__ = ["VERSION", "Api"]

VERSION = "2.12.0"

Endpoint = Callable[..., Awaitable[Response]]


def _json(status: int, data: Any) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, [("Content-Type", "application/json")])


def _error(message: str, status: int) -> Response:
    # Go's http.Error: text/plain, nosniff, and a trailing newline after the JSON
    body = json.dumps({"error": message, "status": status}, separators=(",", ":"), ensure_ascii=False) + "\n"
    return Response(
        status,
        body.encode(),
        [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
    )


def _plain(status: int, text: str) -> Response:
    return Response(
        status, text.encode(), [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
    )


def _request_id() -> str:
    # xid-like: 20 characters of base32hex, unique per request
    return base64.b32hexencode(os.urandom(12)).decode().lower()[:20]


def _no_constants(name: str) -> Any:
    # Go's decoder has no NaN/Infinity literals; Python's would let an infinite toxicity through
    raise bad_body(f"invalid character '{name[0]}' looking for beginning of value")


def _decode(body: bytes) -> Any:
    """The first JSON value of the body, as Go's json.Decoder.Decode reads it."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_body("EOF")
    try:
        value, _ = json.JSONDecoder(parse_constant=_no_constants).raw_decode(text)
    except json.JSONDecodeError as exc:
        raise bad_body(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
    return value


class Api:
    def __init__(self, proxies: ProxyCollection, version: str = VERSION) -> None:
        self.proxies = proxies
        self.version = version
        # (pattern, {method: handler}); {name} segments match one path segment, as in gorilla/mux
        self.routes: list[tuple[re.Pattern[str], dict[str, Endpoint]]] = []
        self._route("/reset", POST=self.reset)
        self._route("/populate", POST=self.populate)
        self._route("/proxies", GET=self.list_proxies, POST=self.create_proxy)
        self._route("/proxies/{proxy}", GET=self.get_proxy, POST=self.update_proxy, PATCH=self.update_proxy,
                    DELETE=self.delete_proxy)
        self._route("/proxies/{proxy}/toxics", GET=self.list_toxics, POST=self.add_toxic)
        self._route("/proxies/{proxy}/toxics/{toxic}", GET=self.get_toxic, POST=self.update_toxic,
                    PATCH=self.update_toxic, DELETE=self.delete_toxic)
        self._route("/version", GET=self.get_version)

    def _route(self, template: str, **methods: Endpoint) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append((re.compile(f"^{pattern}$"), methods))

    async def __call__(self, req: Request) -> Response:
        for pattern, methods in self.routes:
            match = pattern.match(req.path)
            if match is None:
                continue
            handler = methods.get(req.method)
            if handler is None:
                return Response(405)  # mux: empty body, no Content-Type, no request id
            resp = await self._dispatch(req, handler, match.groupdict())
            resp.headers.append(("X-Toxiproxy-Request-Id", _request_id()))
            return resp
        return _plain(404, "404 page not found\n")

    async def _dispatch(self, req: Request, handler: Endpoint, params: dict[str, str]) -> Response:
        if req.headers.get("user-agent", "").startswith("Mozilla/"):
            return _plain(403, "User agent not allowed\n")
        try:
            async with self.proxies.lock:
                return await handler(req, **params)
        except ApiError as exc:
            return _error(exc.message, exc.status)
        except ServerFailure as exc:
            return _error(str(exc), 500)

    # -- server -----------------------------------------------------------------------------
    async def get_version(self, req: Request) -> Response:
        body = json.dumps({"version": self.version}) + "\n"  # Go's fmt: a space after the colon
        return Response(200, body.encode(), [("Content-Type", "application/json;charset=utf-8")])

    async def reset(self, req: Request) -> Response:
        await self.proxies.reset()
        return Response(204)

    # -- proxies ----------------------------------------------------------------------------
    async def list_proxies(self, req: Request) -> Response:
        return _json(200, {name: self.proxies.proxies[name].to_json() for name in sorted(self.proxies.proxies)})

    def _proxy_fields(self, body: Any, struct: str, where: str = "") -> tuple[str, str, str, bool | None]:
        if not isinstance(body, dict):
            raise bad_body(f"json: cannot unmarshal {json_kind(body)} into Go value of type toxiproxy.{struct}")
        name = typed(body, "name", str, "Proxy", "string", "")
        listen = typed(body, "listen", str, "Proxy", "string", "")
        upstream = typed(body, "upstream", str, "Proxy", "string", "")
        enabled = typed(body, "enabled", bool, "Proxy", "bool", None)
        return name, listen, upstream, enabled

    async def create_proxy(self, req: Request) -> Response:
        name, listen, upstream, enabled = self._proxy_fields(_decode(req.body), "Proxy")
        if not name:
            raise ApiError("missing required field: name", 400)
        if not upstream:
            raise ApiError("missing required field: upstream", 400)
        proxy = self.proxies.new(name, listen, upstream)
        await self.proxies.add(proxy, True if enabled is None else enabled)
        return _json(201, proxy.to_json())

    async def populate(self, req: Request) -> Response:
        def fail(message: str, status: int, created: list[Any] | None) -> Response:
            return _json(status, {"error": message, "status": status, "proxies": created})

        try:
            body = _decode(req.body)
            if not isinstance(body, list):
                raise bad_body(f"json: cannot unmarshal {json_kind(body)} into Go value of type []toxiproxy.Proxy")
            entries = [self._proxy_fields(e, "Proxy") for e in body]
        except ApiError as exc:
            return fail(exc.message, exc.status, None)
        for i, (name, _listen, upstream, _enabled) in enumerate(entries, start=1):
            if not name:
                return fail(f"missing required field: name at proxy {i}", 400, None)
            if not upstream:
                return fail(f"missing required field: upstream at proxy {i}", 400, None)
        done: list[dict[str, Any]] = []
        for name, listen, upstream, enabled in entries:
            try:
                proxy = await self.proxies.add_or_replace(
                    self.proxies.new(name, listen, upstream), True if enabled is None else enabled
                )
            except ApiError as exc:
                return fail(exc.message, exc.status, done)
            except ServerFailure as exc:
                return fail(str(exc), 500, done)
            done.append(proxy.to_json())
        return _json(201, {"proxies": done or None})

    async def get_proxy(self, req: Request, proxy: str) -> Response:
        return _json(200, self.proxies.get(proxy).to_json())

    async def update_proxy(self, req: Request, proxy: str) -> Response:
        p = self.proxies.get(proxy)
        body = _decode(req.body)
        _name, listen, upstream, enabled = self._proxy_fields(body, "Proxy")
        # fields left out keep their values; the name is never changed
        await p.update(
            listen if "listen" in body and body["listen"] is not None else p.listen,
            upstream if "upstream" in body and body["upstream"] is not None else p.upstream,
            p.running if enabled is None else enabled,
        )
        return _json(200, p.to_json())

    async def delete_proxy(self, req: Request, proxy: str) -> Response:
        self.proxies.remove(proxy)
        return Response(204)

    # -- toxics -----------------------------------------------------------------------------
    async def list_toxics(self, req: Request, proxy: str) -> Response:
        return _json(200, self.proxies.get(proxy).toxics.to_json())

    async def add_toxic(self, req: Request, proxy: str) -> Response:
        p = self.proxies.get(proxy)
        return _json(200, p.toxics.add(_decode(req.body)).to_json())

    async def get_toxic(self, req: Request, proxy: str, toxic: str) -> Response:
        return _json(200, self.proxies.get(proxy).toxics.get(toxic).to_json())

    async def update_toxic(self, req: Request, proxy: str, toxic: str) -> Response:
        p = self.proxies.get(proxy)
        p.toxics.get(toxic)  # 404 before a body error, as Toxiproxy checks
        return _json(200, p.toxics.update(toxic, _decode(req.body)).to_json())

    async def delete_toxic(self, req: Request, proxy: str, toxic: str) -> Response:
        self.proxies.get(proxy).toxics.remove(toxic)
        return Response(204)
