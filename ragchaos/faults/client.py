"""One client for any Toxiproxy 2.x: the real server or the built-in one (``faults.server``).

Why not toxiproxy-python (0.1.1, installed) for the calls themselves: it has no toxic update
(PATCH), updates proxies only with the deprecated ``POST /proxies/{p}``, reads a 500 as success
(``create()`` then fails with ``KeyError: 'name'``, ``enable()`` claims success on a taken
port), maps every 400 to ``InvalidToxic`` and a duplicate toxic to ``ProxyExists``, "populates"
client-side by deleting and recreating proxies (losing their toxics and connections whenever
``listen`` is written as ``localhost:PORT``), has no request timeouts and keeps its host/port in
class attributes (one server per process). This client is a thin typed layer over the same
HTTP API with a timeout on every request and every 4xx/5xx raised as a ``FaultError``.
Listen addresses default to ``127.0.0.1:0``: never all interfaces.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ragchaos.faults.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServerError,
    ToxiproxyError,
    ToxiproxyUnreachable,
)

__all__ = ["Proxy", "Toxic", "ToxiproxyClient"]

_ERRORS: dict[int, type[ToxiproxyError]] = {400: BadRequest, 404: NotFound, 409: Conflict}


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(data["name"], data["type"], data["stream"], float(data["toxicity"]), dict(data.get("attributes") or {}))


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        toxics = tuple(Toxic.from_json(t) for t in data.get("toxics") or [])
        return cls(data["name"], data["listen"], data["upstream"], bool(data["enabled"]), toxics)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class ToxiproxyClient:
    """Blocking (urllib) so it works in threads and gevent greenlets alike."""

    def __init__(self, base_url: str = "http://127.0.0.1:8474", timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.base_url!r})"

    # -- server -----------------------------------------------------------------------------
    def version(self) -> str:
        """``2.12.0`` for 2.7+ (JSON), the plain text for ≤2.5."""
        raw = self._request("GET", "/version", raw=True)
        text = raw.decode(errors="replace").strip()
        try:
            return str(json.loads(text)["version"])
        except (ValueError, KeyError, TypeError):
            return text

    def reachable(self) -> bool:
        try:
            self.version()
            return True
        except Exception:
            return False

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        self._request("POST", "/reset")

    # -- proxies ----------------------------------------------------------------------------
    def proxies(self) -> dict[str, Proxy]:
        return {k: Proxy.from_json(v) for k, v in (self._request("GET", "/proxies") or {}).items()}

    def get_proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._request("GET", f"/proxies/{_q(name)}"))

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._request("POST", "/proxies", body))

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        """The server's own ``POST /populate``: identical proxies are kept (with their toxics), changed ones replaced."""
        entries = [{"listen": "127.0.0.1:0", **p} for p in proxies]
        answer = self._request("POST", "/populate", entries) or {}
        return [Proxy.from_json(p) for p in answer.get("proxies") or []]

    def update_proxy(
        self, name: str, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None
    ) -> Proxy:
        body = {k: v for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled)) if v is not None}
        # PATCH (2.6+); the POST form toxiproxy-python uses is deprecated
        return Proxy.from_json(self._request("PATCH", f"/proxies/{_q(name)}", body))

    def enable(self, name: str) -> Proxy:
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> Proxy:
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{_q(name)}")

    # -- toxics -----------------------------------------------------------------------------
    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._request("GET", f"/proxies/{_q(proxy)}/toxics") or []]

    def get_toxic(self, proxy: str, name: str) -> Toxic:
        return Toxic.from_json(self._request("GET", f"/proxies/{_q(proxy)}/toxics/{_q(name)}"))

    def add_toxic(
        self,
        proxy: str,
        *,
        type: str,
        stream: str = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
    ) -> Toxic:
        body: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes or {}}
        if name is not None:
            body["name"] = name
        return Toxic.from_json(self._request("POST", f"/proxies/{_q(proxy)}/toxics", body))

    def update_toxic(
        self, proxy: str, name: str, *, attributes: dict[str, Any] | None = None, toxicity: float | None = None
    ) -> Toxic:
        """Merge: attributes left out keep their values (missing from toxiproxy-python)."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._request("PATCH", f"/proxies/{_q(proxy)}/toxics/{_q(name)}", body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._request("DELETE", f"/proxies/{_q(proxy)}/toxics/{_q(name)}")

    # -- transport --------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any | None = None, raw: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            # a non-browser agent: Toxiproxy answers 403 to anything starting with "Mozilla/"
            headers={"Content-Type": "application/json", "User-Agent": "ragchaos-faults/1"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.read(), method, path) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise ToxiproxyUnreachable(f"{method} {self.base_url}{path}: {getattr(exc, 'reason', exc)}") from None
        if raw:
            return payload
        return json.loads(payload) if payload.strip() else None


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _error(status: int, payload: bytes, method: str, path: str) -> ToxiproxyError:
    text = payload.decode(errors="replace").strip()
    try:
        message = str(json.loads(text).get("error", text))
    except (ValueError, AttributeError):
        message = text or f"HTTP {status}"
    cls = _ERRORS.get(status, ServerError if status >= 500 else ToxiproxyError)
    return cls(status, message, method, path)
