"""A provider process for the tests in this folder, driven by the official openai SDK.

The latency model is off (tests must not wait on it); each test aims at its own API key, so
rate limits, faults and stats of one test cannot leak into another. Faults are cleared after
every test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from ragchaos.core.ports import free_port
from ragchaos.core.procs import ManagedProcess, python_module_argv

# keys with their own limits; every other test key just has the defaults
KEYS: dict[str, Any] = {
    "rpm120": {"embeddings": {"rpm": 120}},
    "tpm-small": {"embeddings": {"tpm": 600}},
    "broke": {"insufficient_quota": True},
    **{f"k{i}": {} for i in range(1, 41)},
}
CONFIG: dict[str, Any] = {"latency": {"enabled": False}, "keys": KEYS}


@dataclass
class Provider:
    url: str
    process: ManagedProcess

    def client(self, key: str = "test", **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, **kwargs)

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """A plain HTTP call (control API, malformed requests): (status, parsed JSON body)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def stats(self, key: str, endpoint: str = "embeddings") -> dict[str, Any]:
        return self.call("GET", "/_stats")[1]["keys"].get(key, {}).get(endpoint, {})

    def add_fault(self, **fault: Any) -> str:
        status, body = self.call("POST", "/_control/faults", fault)
        assert status == 200, body
        return str(body["id"])


def start_provider(tmp: Path, config: dict[str, Any], name: str = "provider", module: str = "ragchaos.provider") -> Provider:
    """Start ``python -m ragchaos.provider serve ...`` (or, with module="ragchaos", ``ragchaos provider serve ...``)."""
    config_path = tmp / f"{name}.json"
    config_path.write_text(json.dumps(config))
    port = free_port()
    command = ["provider", "serve"] if module == "ragchaos" else ["serve"]
    proc = ManagedProcess(name, python_module_argv(module, *command, "--host", "127.0.0.1", "--port", str(port),
                                                   "--config", str(config_path)),
                          health_url=f"http://127.0.0.1:{port}/healthz", log_path=tmp / f"{name}.log")
    proc.start()
    try:
        proc.wait_healthy(30)
    except Exception:
        proc.stop()
        raise
    return Provider(f"http://127.0.0.1:{port}", proc)


@pytest.fixture(scope="session")
def provider_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    server = start_provider(tmp_path_factory.mktemp("provider"), CONFIG)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def prov(provider_server: Provider) -> Iterator[Provider]:
    yield provider_server
    provider_server.call("DELETE", "/_control/faults")
