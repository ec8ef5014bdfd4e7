"""The built-in proxy times every call it carries: real servers, real clients, real sockets.

The openai SDK against the simulated provider (endpoints, the SDK's retries as attempts, a
latency toxic in the durations, a streamed answer), Chroma's own HTTP client against a Chroma
server (query, upsert), a non-HTTP echo server (exchanges), an upstream that refuses the dial,
and a proxy started with ``--no-call-timing`` (the same answer as a real Toxiproxy: nothing)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.core.procs import ManagedProcess, python_module_argv
from ragchaos.faults.calltiming import CallReader
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.discovery import FaultProxyHandle
from ragchaos.stack.local import Endpoint

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("builtin_only")]

KEY = "key-199"  # a provider key of the session's provider that no app of this module uses


def _proxy(client: ToxiproxyClient, name: str, upstream: str) -> str:
    proxy = client.create_proxy(name, upstream, listen=f"{LOOPBACK}:0")
    return proxy.listen


def _reader_now(toxiproxy: FaultProxyHandle) -> CallReader:
    reader = CallReader(toxiproxy.url)
    assert reader.available()
    reader.skip_to_now()
    return reader


def _mine(reader: CallReader, proxy: str, kind: str = "http", wait_s: float = 2.0) -> list[dict]:
    """This proxy's records; a connection's records arrive when it closes, so wait a little."""
    out: list[dict] = []
    deadline = time.monotonic() + wait_s
    while True:
        out += [r for r in reader.fetch() if r["proxy"] == proxy]
        if time.monotonic() > deadline or any(r["kind"] in ("close", "refused") for r in out):
            return [r for r in out if r["kind"] == kind]
        time.sleep(0.1)


def _provider_fault(provider: Endpoint, fault: dict) -> str:
    req = urllib.request.Request(f"{provider.url}/_control/faults", data=json.dumps(fault).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(json.loads(resp.read())["id"])


def _clear_fault(provider: Endpoint, fault_id: str) -> None:
    req = urllib.request.Request(f"{provider.url}/_control/faults/{fault_id}", method="DELETE")
    urllib.request.urlopen(req, timeout=5).read()


def _provider_stats(provider: Endpoint) -> dict:
    with urllib.request.urlopen(f"{provider.url}/_stats", timeout=5) as resp:
        return json.loads(resp.read())["keys"].get(KEY, {})


def test_sdk_calls_are_timed_by_endpoint_and_retries_show_as_attempts(
    toxiproxy: FaultProxyHandle, client: ToxiproxyClient, names, provider: Endpoint
) -> None:
    name = names("calls")
    listen = _proxy(client, name, provider.addr)
    reader = _reader_now(toxiproxy)
    before = _provider_stats(provider)
    fault = _provider_fault(provider, {"kind": "fail_first", "n": 2, "status": 503, "endpoint": "embeddings",
                                       "key": KEY})
    try:
        # the SDK's defaults: 2 retries; the first two attempts get 503s, the third a 200
        sdk = openai.OpenAI(base_url=f"http://{listen}/v1", api_key=KEY)
        sdk.embeddings.create(model="text-embedding-3-small", input=["retried"])
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                             stream=True)
        chunks = sum(1 for _ in stream)
        sdk.close()
    finally:
        _clear_fault(provider, fault)
    calls = _mine(reader, name)
    embeds = [c for c in calls if c["endpoint"] == "embeddings"]
    assert [(c["status"], c["retry"]) for c in embeds] == [(503, 0), (503, 1), (200, 2)]
    assert [c["outcome"] for c in embeds] == ["http_error", "http_error", "ok"]
    chats = [c for c in calls if c["endpoint"] == "chat"]
    assert len(chats) == 2 and all(c["status"] == 200 and c["path"] == "/v1/chat/completions" for c in chats)
    streamed = chats[1]
    assert chunks > 2 and streamed["first_byte_us"] < streamed["duration_us"]  # the stream took a while
    # cross-check with the provider's own counts for this key: one record per request it served
    after = _provider_stats(provider)
    for endpoint, n in (("embeddings", 3), ("chat", 2)):
        served = after[endpoint]["requests"] - before.get(endpoint, {}).get("requests", 0)
        assert served == n == len([c for c in calls if c["endpoint"] == endpoint])
    assert after["embeddings"]["retries_seen"] - before.get("embeddings", {}).get("retries_seen", 0) == 2


def test_a_latency_toxic_shows_in_the_call_durations(
    toxiproxy: FaultProxyHandle, client: ToxiproxyClient, names, provider: Endpoint
) -> None:
    name = names("lat")
    listen = _proxy(client, name, provider.addr)
    reader = _reader_now(toxiproxy)
    sdk = openai.OpenAI(base_url=f"http://{listen}/v1", api_key=KEY)
    for _ in range(3):
        sdk.embeddings.create(model="text-embedding-3-small", input=["plain"])
    client.add_toxic(name, type="latency", stream="downstream", attributes={"latency": 300})
    for _ in range(3):
        sdk.embeddings.create(model="text-embedding-3-small", input=["slowed"])
    sdk.close()
    calls = _mine(reader, name)
    assert len(calls) == 6
    plain, slowed = calls[:3], calls[3:]
    # the toxic delays the answer the client gets: every slowed call took at least 300 ms more
    # than the slowest plain one minus its own time (a lower bound only: the machine may be busy)
    assert min(c["duration_us"] for c in slowed) >= 300_000
    assert max(c["duration_us"] for c in plain) < min(c["duration_us"] for c in slowed)


def test_chroma_calls_are_named_by_operation(
    toxiproxy: FaultProxyHandle, client: ToxiproxyClient, names, chroma: Endpoint
) -> None:
    import chromadb
    from chromadb.config import Settings

    name = names("vdb")
    listen = _proxy(client, name, chroma.addr)
    reader = _reader_now(toxiproxy)
    host, port = listen.rsplit(":", 1)
    db = chromadb.HttpClient(host=host, port=int(port), settings=Settings(anonymized_telemetry=False))
    col = db.get_or_create_collection(f"timing_{uuid.uuid4().hex[:8]}")
    col.upsert(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["a", "b"])
    col.query(query_embeddings=[[1.0, 0.1]], n_results=1)
    col.query(query_embeddings=[[0.1, 1.0]], n_results=1)
    db.delete_collection(col.name)
    del db, col
    import gc

    gc.collect()  # let Chroma's client close its pooled connection, so its records are final
    calls = _mine(reader, name, wait_s=3.0)
    ops = [c["endpoint"] for c in calls]
    assert ops.count("query") == 2 and ops.count("upsert") == 1, ops
    assert "create_collection" in ops and "delete_collection" in ops, ops
    assert all(c["status"] < 400 for c in calls if c["endpoint"] in ("query", "upsert"))


def test_other_protocols_are_timed_by_exchange_and_connections_counted(
    toxiproxy: FaultProxyHandle, client: ToxiproxyClient, names, echo
) -> None:
    name = names("tcp")
    listen = _proxy(client, name, echo.addr)
    reader = _reader_now(toxiproxy)
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        for word in (b"*1\r\n$4\r\nPING\r\n", b"*1\r\n$4\r\nPING\r\n", b"*1\r\n$4\r\nPING\r\n"):
            s.sendall(word)
            assert s.recv(100) == word
    exchanges = _mine(reader, name, kind="tcp", wait_s=3.0)
    assert len(exchanges) == 3 and all(e["outcome"] == "ok" for e in exchanges)
    assert reader.counters[name]["connections"] == 1 and reader.counters[name]["open"] == 0


def test_an_upstream_that_refuses_is_counted(toxiproxy: FaultProxyHandle, client: ToxiproxyClient, names) -> None:
    name = names("refused")
    listen = _proxy(client, name, f"{LOOPBACK}:{free_port()}")  # nothing listens there
    reader = _reader_now(toxiproxy)
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.settimeout(5)
        assert s.recv(10) == b""  # closed at once, as Toxiproxy does
    assert len(_mine(reader, name, kind="refused")) == 1
    assert reader.counters[name]["refused"] == 1


@pytest.fixture
def untimed(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = ManagedProcess("toxiproxy-untimed", python_module_argv(
        "ragchaos.faults", "serve", "--host", LOOPBACK, "--port", str(port), "--no-call-timing"),
        health_url=f"http://{LOOPBACK}:{port}/version", log_path=tmp_path / "untimed.log")
    proc.start().wait_healthy(30)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        proc.stop()


def test_with_call_timing_off_nothing_is_timed_as_on_a_real_toxiproxy(untimed: str, provider: Endpoint) -> None:
    client = ToxiproxyClient(untimed)
    listen = _proxy(client, "untimed_provider", provider.addr)
    sdk = openai.OpenAI(base_url=f"http://{listen}/v1", api_key=KEY)
    sdk.embeddings.create(model="text-embedding-3-small", input=["not timed"])  # the proxy still forwards
    sdk.close()
    assert CallReader(untimed).available() is False
