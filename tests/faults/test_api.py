"""Black-box tests of the Toxiproxy HTTP API: status codes, exact bodies, headers, error texts.

They run against the built-in proxy (as its own process) and, when ``TOXIPROXY_URL`` is set,
against a real Toxiproxy 2.12.0 as well, so any difference shows up as a failure there.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.faults.conftest import free_port, port_open

ERR_TYPE = "text/plain; charset=utf-8"


def err(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}, separators=(",", ":")).encode() + b"\n"


def create(api, name, upstream="127.0.0.1:1", listen="127.0.0.1:0", **extra):
    reply = api.call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, **extra})
    assert reply.status == 201, reply.body
    return reply.json


# -- middleware and routing ------------------------------------------------------------------
def test_version_exact_body(api):
    reply = api.call("GET", "/version")
    assert reply.status == 200
    assert reply.content_type == "application/json;charset=utf-8"
    assert reply.body == b'{"version": "2.12.0"}\n'


def test_request_id_header(api):
    first = api.call("GET", "/version").headers.get("X-Toxiproxy-Request-Id")
    second = api.call("GET", "/proxies").headers.get("X-Toxiproxy-Request-Id")
    assert first and second and first != second


def test_browser_user_agent_gets_403(api):
    reply = api.call("GET", "/proxies", user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    assert reply.status == 403
    assert reply.body == b"User agent not allowed\n"
    assert api.call("GET", "/proxies", user_agent="Wget/2.1").status == 200


def test_unknown_path_and_trailing_slash_are_404(api, names):
    reply = api.call("GET", "/nothing-here")
    assert (reply.status, reply.body) == (404, b"404 page not found\n")
    assert reply.content_type == ERR_TYPE
    name = names()
    create(api, name)
    assert api.call("GET", f"/proxies/{name}/toxics/").status == 404


def test_wrong_method_is_405_with_empty_body(api):
    reply = api.call("PUT", "/proxies", {})
    assert reply.status == 405
    assert reply.body == b""
    assert reply.headers.get("X-Toxiproxy-Request-Id") is None
    assert api.call("GET", "/reset").status == 405


# -- proxies ---------------------------------------------------------------------------------
def test_list_is_an_object_keyed_by_name(api, names, toxiproxy):
    before = api.call("GET", "/proxies")
    assert before.status == 200 and before.content_type == "application/json"
    if toxiproxy.kind == "builtin":
        assert before.body == b"{}"  # no trailing newline on success bodies
    b, a = names("b"), names("a")
    create(api, b)
    create(api, a)
    listing = api.call("GET", "/proxies").json
    assert {a, b} <= set(listing)
    keys = [k for k in listing if k in (a, b)]
    assert keys == sorted(keys)


def test_create_shape_key_order_and_resolved_listen(api, names):
    name = names()
    port = free_port()
    reply = api.call("POST", "/proxies", {"name": name, "listen": f"localhost:{port}", "upstream": "127.0.0.1:9"})
    assert reply.status == 201 and reply.content_type == "application/json"
    assert not reply.body.endswith(b"\n")
    body = reply.json
    assert list(body) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert body == {"name": name, "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:9", "enabled": True,
                    "Logger": {}, "toxics": []}
    assert port_open(port)
    assert api.call("GET", f"/proxies/{name}").json == body


def test_create_port_zero_gets_a_real_port(api, names):
    body = create(api, names(), listen="127.0.0.1:0")
    port = int(body["listen"].rsplit(":", 1)[1])
    assert port > 0 and port_open(port)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}, "missing required field: name"),
        ({"name": "x_no_upstream", "listen": "127.0.0.1:0"}, "missing required field: upstream"),
    ],
)
def test_create_missing_fields(api, payload, message):
    reply = api.call("POST", "/proxies", payload)
    assert reply.status == 400
    assert reply.content_type == ERR_TYPE
    assert reply.headers.get("X-Content-Type-Options") == "nosniff"
    assert reply.body == err(400, message)


def test_create_bad_bodies(api):
    empty = api.call("POST", "/proxies", raw=b"")
    assert empty.status == 400 and empty.body == err(400, "bad request body: EOF")
    for raw in (b"[1, 2]", b"{not json", b'{"name": 5, "upstream": "x:1"}'):
        reply = api.call("POST", "/proxies", raw=raw)
        assert reply.status == 400, raw
        assert reply.json["error"].startswith("bad request body: "), raw
        assert reply.body.endswith(b"\n")


def test_create_name_conflict_is_409_before_binding(api, names):
    name = names()
    first = create(api, name)
    # the same name on the same (taken) port: the name is checked first, so 409, not a bind error
    reply = api.call("POST", "/proxies", {"name": name, "listen": first["listen"], "upstream": "127.0.0.1:2"})
    assert (reply.status, reply.body) == (409, err(409, "proxy already exists"))
    api.call("DELETE", f"/proxies/{name}")
    create(api, name)


def test_create_port_conflict_is_500(api, names):
    port = free_port()
    create(api, names(), listen=f"127.0.0.1:{port}")
    other = names()
    reply = api.call("POST", "/proxies", {"name": other, "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:1"})
    assert reply.status == 500
    assert reply.body == err(500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    assert api.call("GET", f"/proxies/{other}").status == 404


def test_disabled_proxy_keeps_listen_unresolved_then_enable_and_disable(api, names):
    name, port = names(), free_port()
    body = create(api, name, listen=f"localhost:{port}", enabled=False)
    assert body["enabled"] is False and body["listen"] == f"localhost:{port}"
    assert not port_open(port)
    on = api.call("PATCH", f"/proxies/{name}", {"enabled": True})
    assert on.status == 200 and on.json["enabled"] is True and on.json["listen"] == f"127.0.0.1:{port}"
    assert port_open(port)
    off = api.call("POST", f"/proxies/{name}", {"enabled": False})  # the deprecated POST form
    assert off.status == 200 and off.json["enabled"] is False
    assert not port_open(port)
    again = api.call("PATCH", f"/proxies/{name}", {"enabled": False})  # disabling twice is harmless
    assert again.status == 200


def test_get_update_delete_missing_proxy_404(api):
    for method, path in (("GET", "/proxies/nope_x"), ("PATCH", "/proxies/nope_x"), ("DELETE", "/proxies/nope_x"),
                         ("GET", "/proxies/nope_x/toxics"), ("POST", "/proxies/nope_x/toxics"),
                         ("GET", "/proxies/nope_x/toxics/t"), ("DELETE", "/proxies/nope_x/toxics/t")):
        reply = api.call(method, path, {"type": "latency"} if method in ("PATCH", "POST") else None)
        assert (reply.status, reply.body) == (404, err(404, "proxy not found")), (method, path)


def test_update_keeps_fields_left_out_and_ignores_name(api, names):
    name = names()
    body = create(api, name, upstream="127.0.0.1:7")
    reply = api.call("PATCH", f"/proxies/{name}", {"name": "renamed", "upstream": "127.0.0.1:8"})
    assert reply.status == 200
    assert reply.json["name"] == name and reply.json["upstream"] == "127.0.0.1:8"
    assert reply.json["enabled"] is True and reply.json["listen"] == body["listen"]


def test_update_empty_body_and_bad_listen(api, names):
    name = names()
    create(api, name)
    assert api.call("PATCH", f"/proxies/{name}", raw=b"").body == err(400, "bad request body: EOF")
    bad = api.call("PATCH", f"/proxies/{name}", {"listen": "nonsense"})
    assert bad.status == 500 and bad.body == err(500, "address nonsense: missing port in address")


def test_update_listen_moves_the_proxy(api, names):
    name = names()
    old = int(create(api, name)["listen"].rsplit(":", 1)[1])
    new = free_port()
    reply = api.call("PATCH", f"/proxies/{name}", {"listen": f"127.0.0.1:{new}"})
    assert reply.json["listen"] == f"127.0.0.1:{new}"
    assert port_open(new) and not port_open(old)


def test_delete_proxy(api, names):
    name = names()
    port = int(create(api, name)["listen"].rsplit(":", 1)[1])
    reply = api.call("DELETE", f"/proxies/{name}")
    assert (reply.status, reply.body) == (204, b"")
    assert not port_open(port)
    assert name not in api.call("GET", "/proxies").json
    assert api.call("DELETE", f"/proxies/{name}").body == err(404, "proxy not found")


# -- populate --------------------------------------------------------------------------------
def test_populate_in_order_default_enabled_and_disabled(api, names):
    a, b, c = names(), names(), names()
    pa, pb, pc = free_port(), free_port(), free_port()
    reply = api.call("POST", "/populate", [
        {"name": a, "listen": f"127.0.0.1:{pa}", "upstream": "127.0.0.1:1"},
        {"name": b, "listen": f"localhost:{pb}", "upstream": "127.0.0.1:2", "enabled": True},
        {"name": c, "listen": f"127.0.0.1:{pc}", "upstream": "127.0.0.1:3", "enabled": False},
    ])
    assert reply.status == 201 and reply.content_type == "application/json"
    proxies = reply.json["proxies"]
    assert [p["name"] for p in proxies] == [a, b, c]
    assert proxies[1]["listen"] == f"127.0.0.1:{pb}"
    assert [p["enabled"] for p in proxies] == [True, True, False]
    assert port_open(pa) and port_open(pb) and not port_open(pc)


def test_populate_keeps_identical_and_replaces_changed(api, names):
    same, changed = names(), names()
    ps, pc = free_port(), free_port()
    create(api, same, listen=f"127.0.0.1:{ps}", upstream="127.0.0.1:5")
    create(api, changed, listen=f"127.0.0.1:{pc}", upstream="127.0.0.1:5")
    for name in (same, changed):
        assert api.call("POST", f"/proxies/{name}/toxics", {"type": "latency", "attributes": {"latency": 10}}).status == 200
    reply = api.call("POST", "/populate", [
        {"name": same, "listen": f"localhost:{ps}", "upstream": "127.0.0.1:5", "enabled": False},
        {"name": changed, "listen": f"127.0.0.1:{pc}", "upstream": "127.0.0.1:6"},
    ])
    assert reply.status == 201
    kept, replaced = reply.json["proxies"]
    # identical (localhost == 127.0.0.1): kept with its toxic; its 'enabled: false' is ignored
    assert kept["listen"] == f"127.0.0.1:{ps}" and kept["enabled"] is True and len(kept["toxics"]) == 1
    assert replaced["upstream"] == "127.0.0.1:6" and replaced["toxics"] == []


def test_populate_validates_everything_first(api, names):
    a, b = names(), names()
    reply = api.call("POST", "/populate", [
        {"name": a, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
        {"name": "", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
        {"name": b, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
    ])
    assert reply.status == 400 and reply.content_type == "application/json"
    assert reply.body == b'{"error":"missing required field: name at proxy 2","status":400,"proxies":null}'
    assert api.call("GET", f"/proxies/{a}").status == 404


def test_populate_failure_midway_keeps_earlier_proxies(api, names):
    one, two, three = names(), names(), names()
    reply = api.call("POST", "/populate", [
        {"name": one, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
        {"name": two, "listen": "local373", "upstream": "127.0.0.1:1"},
        {"name": three, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
    ])
    assert reply.status == 500
    body = reply.json
    assert list(body) == ["error", "status", "proxies"]
    assert body["error"] == "listen tcp: address local373: missing port in address"  # Go net.Listen's wording
    assert [p["name"] for p in body["proxies"]] == [one]
    assert api.call("GET", f"/proxies/{one}").status == 200
    assert api.call("GET", f"/proxies/{two}").status == 404
    assert api.call("GET", f"/proxies/{three}").status == 404


def test_populate_bad_bodies(api):
    assert api.call("POST", "/populate", []).body == b'{"proxies":null}'
    reply = api.call("POST", "/populate", {"name": "x"})
    assert reply.status == 400
    body = reply.json
    assert body["error"].startswith("bad request body: ") and body["proxies"] is None and body["status"] == 400
    assert not reply.body.endswith(b"\n")


# -- toxics ----------------------------------------------------------------------------------
@pytest.fixture
def proxy(api, names):
    name = names()
    create(api, name)
    return name


def test_toxic_list_empty(api, proxy):
    reply = api.call("GET", f"/proxies/{proxy}/toxics")
    assert (reply.status, reply.body) == (200, b"[]")


def test_add_toxic_shape_and_defaults(api, proxy):
    reply = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "latency", "attributes": {"latency": 100}})
    assert reply.status == 200  # not 201
    assert not reply.body.endswith(b"\n")
    body = reply.json
    assert list(body) == ["attributes", "name", "type", "stream", "toxicity"]
    assert body == {"attributes": {"latency": 100, "jitter": 0}, "name": "latency_downstream", "type": "latency",
                    "stream": "downstream", "toxicity": 1}
    assert b'"toxicity":1}' in reply.body  # a float32 1.0 marshals as 1


@pytest.mark.parametrize(
    ("type_", "attrs"),
    [("latency", {"latency": 0, "jitter": 0}), ("bandwidth", {"rate": 0}), ("slow_close", {"delay": 0}),
     ("timeout", {"timeout": 0}), ("reset_peer", {"timeout": 0}),
     ("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}), ("limit_data", {"bytes": 0}), ("noop", {})],
)
def test_every_attribute_present(api, proxy, type_, attrs):
    body: dict = {"type": type_, "stream": "upstream"}
    if type_ == "slicer":
        body["attributes"] = {"average_size": 10}  # 0 kills the real server
        attrs = {**attrs, "average_size": 10}
    reply = api.call("POST", f"/proxies/{proxy}/toxics", body)
    assert reply.status == 200, reply.body
    assert reply.json["attributes"] == attrs
    assert list(reply.json["attributes"]) == list(attrs)


def test_toxicity_stored_as_sent(api, proxy):
    body = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "latency", "toxicity": 0.2}).json
    assert body["toxicity"] == 0.2
    assert api.call("POST", f"/proxies/{proxy}/toxics", {"name": "t2", "type": "noop", "toxicity": 1.5}).json[
        "toxicity"] == 1.5


def test_noop_and_stream_defaults(api, proxy):
    body = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "noop"}).json
    assert (body["name"], body["stream"], body["attributes"]) == ("noop_downstream", "downstream", {})


def test_stream_is_case_insensitive_and_stored_as_sent(api, proxy):
    body = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "latency", "stream": "UPSTREAM"}).json
    assert (body["name"], body["stream"]) == ("latency_UPSTREAM", "UPSTREAM")


def test_invalid_stream_type_and_conflicts(api, proxy):
    path = f"/proxies/{proxy}/toxics"
    bad = "stream was invalid, can be either upstream or downstream"
    assert api.call("POST", path, {"type": "latency", "stream": "walrustream"}).body == err(400, bad)
    assert api.call("POST", path, {"type": "latency", "stream": ""}).body == err(400, bad)
    assert api.call("POST", path, {"type": "walrus"}).body == err(400, "invalid toxic type")
    assert api.call("POST", path, {"name": "x"}).body == err(400, "invalid toxic type")
    assert api.call("POST", path, raw=b"").body == err(400, "bad request body: EOF")
    assert api.call("POST", path, {"name": "a", "type": "latency", "stream": "upstream"}).status == 200
    # names are unique across both streams, whatever the type
    assert api.call("POST", path, {"name": "a", "type": "noop", "stream": "downstream"}).body == err(
        409, "toxic already exists")
    typed = api.call("POST", path, {"name": "b", "type": "latency", "attributes": {"latency": "slow"}})
    assert typed.status == 400 and typed.json["error"].startswith("bad request body: ")
    assert "latency" in typed.json["error"]


def test_default_names_per_stream_coexist_and_list_upstream_first(api, proxy):
    path = f"/proxies/{proxy}/toxics"
    assert api.call("POST", path, {"type": "latency", "stream": "downstream"}).status == 200
    assert api.call("POST", path, {"type": "latency", "stream": "upstream"}).status == 200
    assert api.call("POST", path, {"type": "noop", "name": "n2", "stream": "downstream"}).status == 200
    names_ = [t["name"] for t in api.call("GET", path).json]
    assert names_ == ["latency_upstream", "latency_downstream", "n2"]
    assert [t["name"] for t in api.call("GET", f"/proxies/{proxy}").json["toxics"]] == names_


def test_get_and_delete_toxic(api, proxy):
    path = f"/proxies/{proxy}/toxics"
    created = api.call("POST", path, {"name": "lat", "type": "latency", "attributes": {"latency": 100, "jitter": 10}})
    assert api.call("GET", f"{path}/lat").json == created.json
    assert api.call("GET", f"{path}/nope").body == err(404, "toxic not found")
    assert (api.call("DELETE", f"{path}/lat").status, api.call("GET", path).body) == (204, b"[]")
    assert api.call("DELETE", f"{path}/lat").body == err(404, "toxic not found")


def test_update_toxic_merges(api, proxy):
    path = f"/proxies/{proxy}/toxics"
    api.call("POST", path, {"name": "lat", "type": "latency", "toxicity": 0.5,
                            "attributes": {"latency": 100, "jitter": 10}})
    reply = api.call("PATCH", f"{path}/lat", {"attributes": {"latency": 300}, "name": "other", "stream": "upstream",
                                              "type": "noop"})
    assert reply.status == 200
    assert reply.json == {"attributes": {"latency": 300, "jitter": 10}, "name": "lat", "type": "latency",
                          "stream": "downstream", "toxicity": 0.5}
    posted = api.call("POST", f"{path}/lat", {"toxicity": 1})  # the POST form updates too
    assert posted.json["toxicity"] == 1 and posted.json["attributes"]["jitter"] == 10
    assert api.call("PATCH", f"{path}/nope", {"toxicity": 1}).body == err(404, "toxic not found")
    assert api.call("PATCH", f"{path}/lat", raw=b"").body == err(400, "bad request body: EOF")


def test_reset_removes_toxics_and_reenables(api, names):
    a, b = names(), names()
    pa = int(create(api, a)["listen"].rsplit(":", 1)[1])
    create(api, b)
    api.call("POST", f"/proxies/{b}/toxics", {"type": "latency"})
    api.call("PATCH", f"/proxies/{a}", {"enabled": False})
    assert not port_open(pa)
    reply = api.call("POST", "/reset")
    assert (reply.status, reply.body) == (204, b"")
    assert api.call("GET", f"/proxies/{a}").json["enabled"] is True and port_open(pa)
    assert api.call("GET", f"/proxies/{b}/toxics").body == b"[]"


# -- inputs that crash the real server: accepted as it accepts them (the data path is guarded) ----
def test_negative_bandwidth_is_accepted_as_the_real_one_does(api, proxy):
    reply = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "bandwidth", "attributes": {"rate": -100}})
    assert reply.status == 200 and reply.json["attributes"]["rate"] == -100
    update = api.call("PATCH", f"/proxies/{proxy}/toxics/bandwidth_downstream", {"attributes": {"rate": -1}})
    assert update.status == 200
    assert api.call("GET", f"/proxies/{proxy}/toxics/bandwidth_downstream").json["attributes"]["rate"] == -1


def test_slicer_with_no_attributes_takes_the_defaults(api, proxy):
    reply = api.call("POST", f"/proxies/{proxy}/toxics", {"type": "slicer"})
    assert reply.status == 200
    assert reply.json["attributes"] == {"average_size": 0, "size_variation": 0, "delay": 0}


def test_bad_listen_is_worded_as_go_does(api, names, builtin_only):
    reply = api.call("POST", "/proxies", {"name": names(), "listen": "local373", "upstream": "127.0.0.1:1"})
    assert reply.status == 500 and reply.json["error"] == "listen tcp: address local373: missing port in address"


def test_non_loopback_listen_is_refused(api, names, builtin_only):
    reply = api.call("POST", "/proxies", {"name": names(), "listen": "0.0.0.0:0", "upstream": "127.0.0.1:1"})
    assert reply.status == 400 and "loopback" in reply.json["error"]
    assert reply.json["error"].startswith("listen tcp 0.0.0.0:0: bind: ")


def test_server_survives_garbage(api, toxiproxy):
    host, port = toxiproxy.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert api.call("GET", "/version").status == 200
