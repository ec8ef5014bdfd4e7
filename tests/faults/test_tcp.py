"""TCP behaviour through the proxy, with a real echo (or collecting) server behind it.

Timing bounds are loose on purpose (a noisy shared 2-core machine): a 200 ms toxic must take at
least ~180 ms and well under a second. Exact figures belong to benchmarks/bench_proxy.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
import time

import pytest

from tests.faults.conftest import free_port, recv_exactly, recv_until_eof


@pytest.fixture
def make_proxy(client, names):
    def make(upstream: str) -> tuple[str, int]:
        proxy = client.create_proxy(names(), upstream, listen="127.0.0.1:0")
        return proxy.name, proxy.port

    return make


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def test_big_message_intact(echo, make_proxy):
    _, port = make_proxy(echo.addr)
    payload = os.urandom(64 * 1024)
    with connect(port) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        sock.sendall(b"two-")
        sock.sendall(b"part")
        assert recv_exactly(sock, 8) == b"two-part"


def test_downstream_latency(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", stream="downstream", attributes={"latency": 200})
    with connect(port) as sock:
        assert 0.18 <= round_trip(sock) < 1.0


def test_upstream_latency_is_seen_by_the_server(collect, make_proxy, client):
    name, port = make_proxy(collect.addr)
    client.add_toxic(name, type="latency", stream="upstream", attributes={"latency": 200})
    with connect(port) as sock:
        time.sleep(0.05)  # the upstream connection is made when the client connects
        sent = time.monotonic()
        sock.sendall(b"hello")
        deadline = time.monotonic() + 3
        while not (collect.received and collect.received[0]) and time.monotonic() < deadline:
            time.sleep(0.005)
    arrived = collect.received[0][0][0]
    assert 0.18 <= arrived - sent < 1.0


def test_stacked_latencies_add_up(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", stream="upstream", name="a", attributes={"latency": 150})
    client.add_toxic(name, type="latency", stream="upstream", name="b", attributes={"latency": 150})
    with connect(port) as sock:
        assert 0.28 <= round_trip(sock) < 1.5


def test_latency_is_pipelined(echo, make_proxy, client):
    """Ten writes 20 ms apart under 200 ms latency arrive after ~400 ms in total, not ~2 s."""
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", stream="downstream", attributes={"latency": 200})
    with connect(port) as sock:
        start = time.monotonic()
        for i in range(10):
            sock.sendall(bytes([65 + i]))
            time.sleep(0.02)
        assert recv_exactly(sock, 10) == b"ABCDEFGHIJ"
        assert 0.35 <= time.monotonic() - start < 1.5


def test_bandwidth(collect, make_proxy, client):
    name, port = make_proxy(collect.addr)
    client.add_toxic(name, type="bandwidth", stream="upstream", attributes={"rate": 100})  # 100 KB/s
    payload = os.urandom(50_000)
    with connect(port) as sock:
        start = time.monotonic()
        sock.sendall(payload)
        deadline = start + 5
        while sum(len(d) for _, d in (collect.received[0] if collect.received else [])) < len(payload):
            assert time.monotonic() < deadline, "bandwidth toxic never delivered everything"
            time.sleep(0.01)
        took = collect.received[0][-1][0] - start
    assert b"".join(d for _, d in collect.received[0]) == payload
    assert 0.4 <= took < 2.5  # 50 000 B at 100 000 B/s ≈ 0.5 s


def test_reset_peer_gives_econnreset(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="reset_peer", stream="downstream", attributes={"timeout": 100})
    with connect(port) as sock:  # the toxic exists before the connection, so the close is an RST
        sock.sendall(b"hello")
        start = time.monotonic()
        with pytest.raises(ConnectionResetError):
            data = sock.recv(100)
            assert data == b"", data  # nothing must be delivered before the reset
            sock.recv(100)
        assert time.monotonic() - start >= 0.08


def test_timeout_closes_an_idle_connection(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="timeout", stream="downstream", attributes={"timeout": 300})
    with connect(port) as sock:
        sock.sendall(b"dropped")
        start = time.monotonic()
        assert recv_until_eof(sock) == b""  # the data is dropped, then EOF
        assert 0.25 <= time.monotonic() - start < 2.0


def test_timeout_zero_holds_until_removed_then_closes(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="timeout", stream="upstream", attributes={"timeout": 0})
    with connect(port, timeout=0.3) as sock:
        sock.sendall(b"dropped")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        client.remove_toxic(name, "timeout_upstream")
        sock.settimeout(3)
        assert recv_until_eof(sock) == b""


def test_limit_data_passes_exactly_n_bytes_then_eof(collect, echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="limit_data", stream="downstream", attributes={"bytes": 10})
    with connect(port) as sock:
        sock.sendall(b"0123456789abcdef")
        assert recv_until_eof(sock) == b"0123456789"


def test_disable_gives_eof_then_refuses_then_enable_works(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    with connect(port) as sock:
        round_trip(sock)
        client.disable(name)
        assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    client.enable(name)
    with connect(port) as sock:
        round_trip(sock)


def test_upstream_down_gives_eof(make_proxy):
    _, port = make_proxy(f"127.0.0.1:{free_port()}")  # nothing listens there
    with connect(port, timeout=2) as sock:
        start = time.monotonic()
        with contextlib.suppress(ConnectionResetError):  # also a close; what matters is that it is prompt
            assert sock.recv(10) == b""
        assert time.monotonic() - start < 1.0


def test_toxicity_zero_and_one(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", name="never", toxicity=0.0, attributes={"latency": 400})
    with connect(port) as sock:
        assert round_trip(sock) < 0.3
    client.update_toxic(name, "never", toxicity=1.0)
    with connect(port) as sock:
        assert 0.38 <= round_trip(sock) < 1.5


def test_toxic_added_to_an_open_connection_takes_effect(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    with connect(port) as sock:
        assert round_trip(sock) < 0.3
        client.add_toxic(name, type="latency", attributes={"latency": 300})
        assert 0.28 <= round_trip(sock) < 1.5
        client.remove_toxic(name, "latency_downstream")
        assert round_trip(sock) < 0.3


def test_client_half_close_closes_both_sides(echo, make_proxy):
    _, port = make_proxy(echo.addr)
    with connect(port) as sock:
        round_trip(sock)
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
    assert echo.closed.wait(3)


def test_no_byte_lost_or_reordered_while_toxics_churn(echo, make_proxy, client):
    """65 535 two-byte counters stream through while latency and noop toxics come and go."""
    name, port = make_proxy(echo.addr)
    payload = b"".join(struct.pack(">H", i) for i in range(65535))
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        i = 0
        try:
            while not stop.is_set():
                stream = ("upstream", "downstream")[i % 2]
                kind = ("latency", "noop", "slicer")[i % 3]
                attrs = {"latency": 5} if kind == "latency" else {"average_size": 512} if kind == "slicer" else {}
                client.add_toxic(name, type=kind, stream=stream, name=f"c{i}", attributes=attrs)
                if i % 2:
                    client.update_toxic(name, f"c{i}", toxicity=0.5)
                time.sleep(0.005)
                client.remove_toxic(name, f"c{i}")
                i += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=churn, daemon=True)
    with connect(port, timeout=10) as sock:
        worker.start()
        received = bytearray()

        def reader() -> None:
            received.extend(recv_exactly(sock, len(payload)))

        r = threading.Thread(target=reader, daemon=True)
        r.start()
        for offset in range(0, len(payload), 997):
            sock.sendall(payload[offset:offset + 997])
            if offset % (997 * 20) == 0:
                time.sleep(0.002)
        r.join(20)
        stop.set()
        worker.join(5)
    assert not errors, errors
    assert len(received) == len(payload)
    assert bytes(received) == payload


def test_slicer_splits_into_small_reads(collect, make_proxy, client):
    name, port = make_proxy(collect.addr)
    client.add_toxic(name, type="slicer", stream="upstream",
                     attributes={"average_size": 10, "size_variation": 5, "delay": 2000})
    payload = os.urandom(200)
    with connect(port) as sock:
        sock.sendall(payload)
        deadline = time.monotonic() + 5
        while sum(len(d) for _, d in (collect.received[0] if collect.received else [])) < 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    reads = collect.received[0]
    assert b"".join(d for _, d in reads) == payload
    assert len(reads) >= 8  # 2 ms apart, so mostly one piece per read
    assert max(len(d) for _, d in reads) <= 30


def test_slow_close_delays_the_close(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="slow_close", stream="upstream", attributes={"delay": 300})
    with connect(port) as sock:
        round_trip(sock)
        start = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        assert 0.25 <= time.monotonic() - start < 2.0


def test_many_connections_one_stalled(echo, make_proxy, client):
    """A stalled connection (bandwidth 0) on one proxy does not hold up 20 others on another."""
    slow, slow_port = make_proxy(echo.addr)
    _, fast_port = make_proxy(echo.addr)
    client.add_toxic(slow, type="bandwidth", attributes={"rate": 0})
    with connect(slow_port) as stalled:
        stalled.sendall(os.urandom(1 << 20))
        socks = [connect(fast_port) for _ in range(20)]
        try:
            start = time.monotonic()
            for _ in range(5):
                for s in socks:
                    round_trip(s, b"x" * 64)
            assert time.monotonic() - start < 5.0
        finally:
            for s in socks:
                s.close()


def test_econnreset_errno_is_reset(echo, make_proxy, client):
    """reset_peer on upstream: the server side is reset and the client sees a reset too."""
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(port) as sock:
        sock.sendall(b"x")
        try:
            data = sock.recv(10)
            assert data == b""
            pytest.fail("expected a reset, got EOF")
        except OSError as exc:
            assert exc.errno == errno.ECONNRESET


def test_limit_data_count_survives_an_update(collect, make_proxy, client):
    name, port = make_proxy(collect.addr)
    client.add_toxic(name, type="limit_data", stream="upstream", attributes={"bytes": 10})
    with connect(port) as sock:
        sock.sendall(b"abcdef")
        deadline = time.monotonic() + 3
        while sum(len(d) for _, d in (collect.received[0] if collect.received else [])) < 6:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        client.update_toxic(name, "limit_data_upstream", attributes={"bytes": 8})  # 6 already counted
        sock.sendall(b"ghijkl")
        assert recv_until_eof(sock) == b""
    assert collect.closed.wait(3)
    assert b"".join(d for _, d in collect.received[0]) == b"abcdefgh"


def test_reset_with_a_timeout_toxic_closes_its_connections(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="timeout", stream="downstream", attributes={"timeout": 0})
    with connect(port) as sock:
        sock.sendall(b"swallowed")
        time.sleep(0.1)
        client.reset()
        assert recv_until_eof(sock) == b""
    with connect(port) as sock:  # the proxy itself stays, now without toxics
        round_trip(sock)


def test_jitter_stays_within_bounds(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", attributes={"latency": 100, "jitter": 50})
    with connect(port) as sock:
        times = [round_trip(sock) for _ in range(6)]
    assert all(0.045 <= t < 1.0 for t in times), times


def test_listen_update_to_same_port_by_hostname_keeps_connections(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    with connect(port) as sock:
        round_trip(sock)
        client.update_proxy(name, listen=f"localhost:{port}")
        round_trip(sock)  # still the same connection


def test_add_connect_close_remove_race(echo, make_proxy, client):
    """After Toxiproxy's TestLatencyToxicCloseRace: no hang or crash, the proxy still serves."""
    name, port = make_proxy(echo.addr)
    for _ in range(60):
        client.add_toxic(name, type="latency", attributes={"latency": 10})
        with connect(port) as sock:
            sock.sendall(b"x")
        client.remove_toxic(name, "latency_downstream")
    with connect(port) as sock:
        assert round_trip(sock) < 0.5


def test_removing_a_stalled_bandwidth_toxic_lets_data_through(collect, make_proxy, client):
    name, port = make_proxy(collect.addr)
    client.add_toxic(name, type="bandwidth", stream="upstream", attributes={"rate": 0})
    payload = os.urandom(256 * 1024)
    with connect(port) as sock:
        sock.sendall(payload)
        time.sleep(0.2)
        assert sum(len(d) for log in collect.received for _, d in log) == 0
        client.remove_toxic(name, "bandwidth_upstream")  # the held chunk is flushed, not dropped
        deadline = time.monotonic() + 5
        while sum(len(d) for _, d in (collect.received[0] if collect.received else [])) < len(payload):
            assert time.monotonic() < deadline, "data stuck after removing the toxic"
            time.sleep(0.01)
    assert b"".join(d for _, d in collect.received[0]) == payload


def test_removing_latency_in_front_of_a_timeout_does_not_hang(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", stream="upstream", attributes={"latency": 1000})
    client.add_toxic(name, type="timeout", stream="upstream", attributes={"timeout": 0})
    with connect(port) as sock:
        for _ in range(5):
            sock.sendall(b"x")
        start = time.monotonic()
        client.remove_toxic(name, "latency_upstream")
        assert time.monotonic() - start < 1.0
        client.remove_toxic(name, "timeout_upstream")
        sock.settimeout(3)
        assert recv_until_eof(sock) == b""


def test_timeout_is_an_idle_timer(echo, make_proxy, client):
    """Data every ~100 ms keeps a 1 s timeout from firing for 1.2 s; silence then closes the connection."""
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="timeout", stream="upstream", attributes={"timeout": 1000})
    with connect(port) as sock:
        sock.settimeout(0.05)
        for _ in range(12):
            sock.sendall(b"k")
            with pytest.raises(TimeoutError):
                sock.recv(1)  # no data (it is dropped) and no EOF: still open
            time.sleep(0.05)
        sock.settimeout(5)
        start = time.monotonic()
        assert recv_until_eof(sock) == b""
        assert 0.5 <= time.monotonic() - start < 4.0


def test_reset_peer_added_to_an_open_connection_closes_without_rst(echo, make_proxy, client):
    """As Toxiproxy: SO_LINGER 0 is set only for toxics present when the connection started."""
    name, port = make_proxy(echo.addr)
    with connect(port) as sock:
        round_trip(sock)
        client.add_toxic(name, type="reset_peer", stream="downstream", attributes={"timeout": 0})
        sock.sendall(b"x")
        assert recv_until_eof(sock) == b""  # a plain EOF, no ConnectionResetError


def test_toxicity_half_is_drawn_per_connection_and_holds(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", toxicity=0.5, attributes={"latency": 300})
    results: list[tuple[float, float]] = []
    lock = threading.Lock()

    def one() -> None:
        with connect(port) as sock:
            pair = (round_trip(sock), round_trip(sock))
        with lock:
            results.append(pair)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 20
    delayed = [a >= 0.28 for a, _ in results]
    assert [b >= 0.28 for _, b in results] == delayed  # the roll holds for the connection's life
    assert 2 <= sum(delayed) <= 18  # binomial(20, 0.5): outside this range with p < 0.001


def test_update_acts_on_an_open_connection(echo, make_proxy, client):
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="latency", attributes={"latency": 300})
    with connect(port) as sock:
        assert 0.28 <= round_trip(sock) < 1.5
        client.update_toxic(name, "latency_downstream", attributes={"latency": 0})
        assert round_trip(sock) < 0.25
        client.update_toxic(name, "latency_downstream", attributes={"latency": 300})
        assert 0.28 <= round_trip(sock) < 1.5


def test_reset_churn_resets_a_connection_opened_before_it_with_an_rst(builtin_only, echo, make_proxy, client):
    """A pooled connection, established and idle before the fault: reset_churn rolls again on it
    every ``every`` ms, so with toxicity 1 its next use meets a reset (not a plain EOF)."""
    name, port = make_proxy(echo.addr)
    with connect(port) as sock:
        round_trip(sock)
        client.add_toxic(name, type="reset_churn", stream="downstream", attributes={"every": 50})
        time.sleep(0.3)  # idle between requests, as a pooled connection is
        with pytest.raises(ConnectionResetError):
            sock.sendall(b"x")
            assert sock.recv(10) == b"", "the connection must be reset, not closed"
            sock.recv(10)


def test_reset_churn_with_toxicity_zero_never_resets(builtin_only, echo, make_proxy, client):
    """The roll is the stub's, every period: toxicity 0 lets every period pass."""
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="reset_churn", stream="downstream", toxicity=0.0, attributes={"every": 20})
    with connect(port) as sock:
        for _ in range(5):
            round_trip(sock)
            time.sleep(0.05)


def test_reset_churn_rolls_again_on_a_spared_connection(builtin_only, echo, make_proxy, client):
    """Toxicity 0.3 every 20 ms: a connection the first roll spared is reset within a second
    (the chance that 50 rolls all spare it is 0.7^50, below 1e-7), where Toxiproxy's one roll
    per connection would spare it for the whole fault 70% of the time."""
    name, port = make_proxy(echo.addr)
    client.add_toxic(name, type="reset_churn", stream="downstream", toxicity=0.3, attributes={"every": 20})
    # a roll may reset the connection while it is being set up (setsockopt after the
    # handshake has met a reset on a loaded machine): a reset anywhere in the second counts
    with pytest.raises(ConnectionResetError), connect(port) as sock:
        time.sleep(1.0)
        sock.sendall(b"x")
        assert sock.recv(10) == b"", "the connection must be reset, not closed"
        sock.recv(10)
