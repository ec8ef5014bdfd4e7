"""A fake Docker engine on a unix socket: just the API calls ``ragchaos.stack.docker_backend`` makes.

The real ``docker`` SDK talks to it over HTTP exactly as it would to dockerd, so the backend's
requests (create payloads, port bindings, labels, removal) are checked as sent on the wire.
Containers never run: each inspect moves a container one step along its role's health script
(e.g. ``["starting", "healthy"]``), and its log is a fixed line.
"""

from __future__ import annotations

import json
import socketserver
import struct
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API_VERSION = "1.45"


@dataclass
class FakeContainer:
    id: str
    name: str
    body: dict[str, Any]
    health: list[str]
    started: bool = False

    @property
    def labels(self) -> dict[str, str]:
        return self.body.get("Labels") or {}

    def inspect(self) -> dict[str, Any]:
        status = self.health.pop(0) if len(self.health) > 1 else self.health[0]
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Image": self.body.get("Image"),
            "Config": {"Image": self.body.get("Image"), "Labels": self.labels, "Tty": False},
            "HostConfig": self.body.get("HostConfig", {}),
            "State": {"Status": "running" if self.started else "created", "Health": {"Status": status}},
        }


@dataclass
class FakeEngine:
    images: set[str] = field(default_factory=set)
    health: dict[str, list[str]] = field(default_factory=dict)  # role -> health script
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    pulled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_foreign(self, name: str, labels: dict[str, str]) -> FakeContainer:
        """A container someone else owns, to check it is left alone."""
        c = FakeContainer(uuid.uuid4().hex, name, {"Image": "other:1", "Labels": labels}, ["healthy"], True)
        self.containers[c.id] = c
        return c

    def find(self, ref: str) -> FakeContainer | None:
        return self.containers.get(ref) or next((c for c in self.containers.values() if c.name == ref), None)


def _strip_version(path: str) -> str:
    parts = path.split("/", 2)
    if len(parts) > 2 and parts[1].startswith("v1."):
        return "/" + parts[2]
    return path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: FakeEngine

    def log_message(self, *args: Any) -> None:  # the client address of a unix socket is ''
        pass

    def _send(self, status: int, body: Any = None, ctype: str = "application/json") -> None:
        if isinstance(body, bytes):
            data = body
        elif body is None:
            data = b""
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else {}

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = _strip_version(url.path), parse_qs(url.query)
        eng = self.engine
        with eng.lock:
            eng.requests.append((method, path))
        if path == "/version":
            return self._send(200, {"ApiVersion": API_VERSION, "Version": "fake", "MinAPIVersion": "1.24"})
        if path == "/_ping":
            return self._send(200, b"OK", "text/plain")
        if path.startswith("/images/") and path.endswith("/json") and method == "GET":
            name = unquote(path[len("/images/"):-len("/json")])
            if name in eng.images:
                return self._send(200, {"Id": "sha256:" + uuid.uuid5(uuid.NAMESPACE_DNS, name).hex, "RepoTags": [name]})
            return self._send(404, {"message": f"No such image: {name}"})
        if path == "/images/create" and method == "POST":
            self._body()
            name = f"{query['fromImage'][0]}:{query.get('tag', ['latest'])[0]}"
            with eng.lock:
                eng.images.add(name)
                eng.pulled.append(name)
            return self._send(200, json.dumps({"status": f"Pulled {name}"}).encode() + b"\n")
        if path == "/containers/create" and method == "POST":
            body = self._body()
            name = query.get("name", [uuid.uuid4().hex[:8]])[0]
            role = (body.get("Labels") or {}).get("ragchaos.role", "")
            c = FakeContainer(uuid.uuid4().hex, name, body, list(eng.health.get(role, ["healthy"])))
            with eng.lock:
                eng.containers[c.id] = c
            return self._send(201, {"Id": c.id, "Warnings": []})
        if path == "/containers/json" and method == "GET":
            wanted = json.loads(query.get("filters", ["{}"])[0]).get("label", [])
            out = []
            for c in list(eng.containers.values()):
                if all(c.labels.get(k) == v for k, _, v in (w.partition("=") for w in wanted)):
                    out.append({"Id": c.id, "Names": [f"/{c.name}"], "Labels": c.labels})
            return self._send(200, out)
        if path.startswith("/containers/"):
            ref, _, action = path[len("/containers/"):].partition("/")
            c = eng.find(ref)
            if c is None:
                return self._send(404, {"message": f"No such container: {ref}"})
            if method == "DELETE" and action == "":
                with eng.lock:
                    eng.containers.pop(c.id, None)
                    eng.removed.append(c.name)
                return self._send(204)
            if method == "POST" and action == "start":
                c.started = True
                return self._send(204)
            if method == "GET" and action == "json":
                return self._send(200, c.inspect())
            if method == "GET" and action == "logs":
                line = f"{c.name}: fake log line\n".encode()
                return self._send(200, struct.pack(">BxxxL", 1, len(line)) + line,
                                  "application/vnd.docker.raw-stream")
        return self._send(404, {"message": f"fake engine: {method} {path} not implemented"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_HEAD(self) -> None:
        self._route("HEAD")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDockerServer:
    """``with FakeDockerServer(path) as engine:`` serves ``unix://path`` until the block ends."""

    def __init__(self, socket_path: Path, engine: FakeEngine | None = None) -> None:
        self.socket_path = socket_path
        self.engine = engine or FakeEngine()
        handler = type("Handler", (_Handler,), {"engine": self.engine})
        self._server = _Server(str(socket_path), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def __enter__(self) -> FakeEngine:
        self._thread.start()
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
