"""faults.client.ToxiproxyClient against the API: typed results, the server's own populate, PATCH updates."""

from __future__ import annotations

from ragchaos.faults.client import Proxy, Toxic


def test_populate_uses_the_servers_rule(client, names, echo):
    a, b = names(), names()
    first = client.populate([{"name": a, "upstream": echo.addr}, {"name": b, "upstream": echo.addr,
                                                                  "enabled": False}])
    assert [p.name for p in first] == [a, b] and all(isinstance(p, Proxy) for p in first)
    assert first[0].host == "127.0.0.1" and first[0].port > 0  # pinned to loopback by default
    client.add_toxic(a, type="latency", attributes={"latency": 1})
    again = client.populate([{"name": a, "listen": f"localhost:{first[0].port}", "upstream": echo.addr}])
    assert again[0].port == first[0].port
    assert [t.name for t in again[0].toxics] == ["latency_downstream"]  # kept, not recreated
    assert client.populate([]) == []


def test_toxic_crud_and_merge(client, names, echo):
    name = client.create_proxy(names(), echo.addr).name
    created = client.add_toxic(name, type="latency", stream="upstream", name="lat", toxicity=0.5,
                               attributes={"latency": 100, "jitter": 10})
    assert created == Toxic("lat", "latency", "upstream", 0.5, {"latency": 100, "jitter": 10})
    updated = client.update_toxic(name, "lat", attributes={"latency": 200})
    assert updated.attributes == {"latency": 200, "jitter": 10} and updated.toxicity == 0.5
    assert client.update_toxic(name, "lat", toxicity=1.0).toxicity == 1.0
    assert client.get_toxic(name, "lat") == client.toxics(name)[0]
    client.remove_toxic(name, "lat")
    assert client.toxics(name) == []


def test_enable_disable_and_reset(client, names, echo):
    name = client.create_proxy(names(), echo.addr).name
    assert client.disable(name).enabled is False
    assert client.get_proxy(name).enabled is False
    client.reset()
    assert client.get_proxy(name).enabled is True
    moved = client.update_proxy(name, upstream="127.0.0.1:9")
    assert moved.upstream == "127.0.0.1:9" and moved.enabled
    assert name in client.proxies()
