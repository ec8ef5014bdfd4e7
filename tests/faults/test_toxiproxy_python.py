"""A third-party client against the built-in proxy: toxiproxy-python 0.1.1 (the package the project
depends on) drives it through the same calls it makes to a real Toxiproxy."""

from __future__ import annotations

import socket

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound

from tests.faults.conftest import recv_exactly


@pytest.fixture
def tp(toxiproxy):
    host, port = toxiproxy.url.removeprefix("http://").rsplit(":", 1)
    saved = (APIConsumer.host, APIConsumer.port)
    server = Toxiproxy()
    server.update_api_consumer(host, int(port))  # a class attribute: one server per process
    yield server
    APIConsumer.host, APIConsumer.port = saved


def test_toxiproxy_python_round_trip(tp, echo, names):
    assert tp.running()
    assert tp.version() == b'{"version": "2.12.0"}\n'
    name = names()
    proxy = tp.create(upstream=echo.addr, name=name, listen="127.0.0.1:0")
    assert proxy.name == name and proxy.enabled is True
    port = int(proxy.listen.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 10})
    toxic = proxy.get_toxic("latency_upstream")
    assert toxic is not None and toxic.attributes == {"latency": 10, "jitter": 0} and toxic.toxicity == 1
    assert proxy.destroy_toxic("latency_upstream") is True
    assert proxy.toxics() == {}
    proxy.disable()  # the deprecated POST /proxies/{name} form
    assert tp.get_proxy(name).enabled is False
    with proxy.down():
        pass
    assert tp.get_proxy(name).enabled is True
    assert tp.reset() is True
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_upstream")
    assert proxy.destroy() is True
    assert tp.get_proxy(name) is None
