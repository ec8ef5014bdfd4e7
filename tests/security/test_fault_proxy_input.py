"""The built-in fault proxy refuses what crashes the real Toxiproxy, and keeps serving after any input.

The real Toxiproxy (Go) panics on a negative bandwidth rate or a zero slicer size (the whole
server, every proxy with it). Ours answers 400 naming the attribute. Beyond those known inputs,
hypothesis throws random toxic bodies and raw bytes at the API; after every one the API still
answers, and at the end data still flows through the proxy.
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

# inputs that kill (or wedge) the real server, and the attribute our answer must name
CRASHERS = [
    ({"type": "bandwidth", "attributes": {"rate": -100}}, "rate"),
    ({"type": "bandwidth", "attributes": {"rate": -1}}, "rate"),
    ({"type": "slicer", "attributes": {"average_size": 0}}, "average_size"),
    ({"type": "slicer", "attributes": {"average_size": -5}}, "average_size"),
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


@pytest.mark.parametrize(("body", "attribute"), CRASHERS)
def test_crashing_inputs_are_400_and_the_server_keeps_serving(fault_api, proxied, body, attribute) -> None:
    name, port = proxied
    reply = fault_api.call("POST", f"/proxies/{name}/toxics", body)
    assert reply.status == 400 and attribute in reply.json["error"], reply.body
    # updating a good toxic to a bad value is refused the same way, and the good value stays
    good = {**body, "name": "victim", "attributes": {"rate": 1000} if body["type"] == "bandwidth"
            else {"average_size": 10}}
    assert fault_api.call("POST", f"/proxies/{name}/toxics", good).status == 200
    update = fault_api.call("POST", f"/proxies/{name}/toxics/victim", {"attributes": body["attributes"]})
    assert update.status == 400, update.body
    kept = fault_api.call("GET", f"/proxies/{name}/toxics/victim").json["attributes"]
    assert {k: kept[k] for k in good["attributes"]} == good["attributes"]
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
