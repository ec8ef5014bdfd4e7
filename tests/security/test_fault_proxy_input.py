"""The built-in fault proxy accepts every toxic the real Toxiproxy 2.12.0 accepts, and survives it.

The real Toxiproxy (Go) accepts a negative bandwidth rate or a zero slicer size (it validates no
attribute) and then panics on the data path (the whole server, every proxy with it). Ours accepts
the same bodies with the same stored values, as a client written against the real one expects,
and guards its data path instead: a negative rate stalls like rate 0, a slicer of size 0 or less
sends 1-byte pieces. Beyond those, hypothesis throws random toxic bodies and raw bytes at the API;
after every one the API still answers, and at the end data still flows through the proxy.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragchaos.faults.discovery import FaultProxyHandle, start_builtin
from tests.faults.conftest import RawApi, TcpServer

# inputs that kill (or wedge) the real server, and whether data still passes (slowly) under them
CRASHERS = [
    ({"type": "bandwidth", "attributes": {"rate": -100}}, False),
    ({"type": "bandwidth", "attributes": {"rate": -1}}, False),
    ({"type": "slicer", "attributes": {"average_size": 0}}, True),
    ({"type": "slicer", "attributes": {"average_size": -5, "size_variation": -3}}, True),
    ({"type": "slicer"}, True),  # no attributes: Go's zero values, average_size 0
    ({"type": "latency", "attributes": {"latency": -5, "jitter": -7}}, True),
    ({"type": "limit_data", "attributes": {"bytes": -1}}, False),
]


@pytest.fixture(scope="module")
def fault_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawApi]:
    handle: FaultProxyHandle = start_builtin(tmp_path_factory.mktemp("faultfuzz"))
    try:
        yield RawApi(handle.url)
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def echo_server() -> Iterator[TcpServer]:
    server = TcpServer("echo")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def proxied(fault_api: RawApi, echo_server: TcpServer) -> tuple[str, int]:
    reply = fault_api.call("POST", "/proxies", {"name": "fuzzed", "listen": "127.0.0.1:0",
                                                "upstream": echo_server.addr})
    assert reply.status == 201, reply.body
    return "fuzzed", int(reply.json["listen"].rsplit(":", 1)[1])


def _serving(api: RawApi, port: int) -> None:
    assert api.call("GET", "/version").status == 200
    api.call("POST", "/reset")  # drop whatever toxics the inputs left, so data can flow
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"


@pytest.mark.parametrize(("body", "passes"), CRASHERS)
def test_crashing_inputs_are_accepted_and_the_data_path_survives(fault_api, proxied, body, passes) -> None:
    name, port = proxied
    reply = fault_api.call("POST", f"/proxies/{name}/toxics", {**body, "name": "crasher"})
    assert reply.status == 200, reply.body
    stored = reply.json["attributes"]
    assert {k: stored[k] for k in body.get("attributes", {})} == body.get("attributes", {})
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"ping-pong!")
        got = b""
        try:
            while len(got) < 10:
                piece = s.recv(10)
                if not piece:
                    break
                got += piece
        except TimeoutError:
            pass
    # data passes whole (sliced) or is held or cut as the toxic says; never a crashed server
    assert got == b"ping-pong!" if passes else got in (b"", b"ping-pong!"[: len(got)])
    # and an update to the same values is taken too (the real one merges them in)
    update = fault_api.call("POST", f"/proxies/{name}/toxics/crasher", {"attributes": body.get("attributes", {})})
    assert update.status == 200, update.body
    assert fault_api.call("DELETE", f"/proxies/{name}/toxics/crasher").status == 204
    _serving(fault_api, port)


@pytest.mark.parametrize("raw", [
    b'{"type": "latency", "toxicity": 1e300}',  # past float32: once stored, every GET of the proxy failed
    b'{"type": "latency", "toxicity": Infinity}',  # not JSON to Go; Python's decoder took it
    b'{"type": "latency", "toxicity": NaN}',
    b'{"type": "latency", "attributes": {"latency": -Infinity}}',
])
def test_out_of_range_toxicity_is_400_not_a_broken_proxy(fault_api, proxied, raw) -> None:
    """Regression: these were stored, and then listing the proxy dropped the connection."""
    name, port = proxied
    reply = fault_api.call("POST", f"/proxies/{name}/toxics", raw=raw)
    assert reply.status == 400 and reply.json["error"], reply.body
    assert fault_api.call("GET", f"/proxies/{name}").status == 200
    assert fault_api.call("GET", "/proxies").status == 200
    _serving(fault_api, port)


numbers = st.one_of(st.integers(-(2**63), 2**63), st.floats(allow_nan=True, allow_infinity=True), st.none(),
                    st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2))
ATTRS = ["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes"]
TYPES = ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "noop", "nope", ""]
toxics = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | st.text(max_size=5)},
    optional={"attributes": st.dictionaries(st.sampled_from(ATTRS) | st.text(max_size=4), numbers, max_size=4)
              | numbers,
              "stream": st.sampled_from(["upstream", "downstream", "sideways"]) | numbers,
              "toxicity": numbers,
              "name": st.text(max_size=12) | numbers})


@pytest.mark.slow
@settings(max_examples=1000, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(body=toxics | st.binary(max_size=64))
def test_random_toxics_never_crash_the_api(fault_api, proxied, body) -> None:
    name, port = proxied
    if isinstance(body, bytes):
        reply = fault_api.call("POST", f"/proxies/{name}/toxics", raw=body)
    else:
        reply = fault_api.call("POST", f"/proxies/{name}/toxics", raw=json.dumps(body, allow_nan=True).encode())
    assert reply.status in (200, 400, 404, 409), (body, reply.status, reply.body[:200])
    if reply.status != 200:
        assert reply.json["error"]
    # the server is still there after every input; the TCP path is checked without toxics
    assert fault_api.call("GET", f"/proxies/{name}").status == 200
    fault_api.call("POST", "/reset")


def test_data_still_flows_after_the_fuzz(fault_api, proxied) -> None:
    _serving(fault_api, proxied[1])
