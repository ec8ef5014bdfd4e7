"""The proxy's call timing without sockets: HTTP framing, the per-connection tap, endpoint names
and the record ring, fed byte streams cut at every possible place."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragchaos.faults.endpoints import endpoint_of
from ragchaos.faults.server.calls import CallLog, ConnectionTap
from ragchaos.faults.server.httpwatch import CHUNKED, Head, MessageStream, body_length, looks_like_http


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _tap(log: CallLog | None = None) -> tuple[ConnectionTap, Clock, CallLog]:
    log = log or CallLog()
    clock = Clock()
    return ConnectionTap("app_dep", log, clock=clock, wall=lambda: 1_000.0 + clock.t), clock, log


def _calls(log: CallLog, kind: str = "http") -> list[dict]:
    return [r for r in log.records if r["kind"] == kind]


REQ = (b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
       b"x-stainless-retry-count: 1\r\n\r\nhello world")
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED_RESP = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\ndata:\r\n3;ext=1\r\n ok\r\n0\r\nX-Trailer: y\r\n\r\n")


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


# -- framing ---------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_two_pipelined_requests_are_framed_alike_however_the_bytes_are_cut(cuts: list[int]) -> None:
    stream = REQ + b"\r\n" + REQ.replace(b"/v1/embeddings", b"/v1/chat/completions")
    events: list[str] = []

    def head(h: Head) -> int:
        events.append(h.start_line.split()[1])
        f = body_length(h)
        return 0 if f is None else f

    ms = MessageStream(lambda: events.append("begin"), head, lambda: events.append("end"))
    for piece in _pieces(stream, cuts):
        ms.feed(piece)
    assert events == ["begin", "/v1/embeddings", "end", "begin", "/v1/chat/completions", "end"]
    assert not ms.in_message


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_a_chunked_answer_ends_after_its_trailers_however_cut(cuts: list[int]) -> None:
    ended: list[int] = []
    ms = MessageStream(lambda: None, lambda h: CHUNKED, lambda: ended.append(1))
    for piece in _pieces(CHUNKED_RESP, cuts):
        assert not ended
        ms.feed(piece)
    assert ended == [1] and not ms.in_message


def test_body_length_reads_the_framing_headers() -> None:
    assert body_length(Head("x", {"transfer-encoding": "gzip, chunked"})) == CHUNKED
    assert body_length(Head("x", {"content-length": "42"})) == 42
    assert body_length(Head("x", {})) is None
    assert body_length(Head("x", {"content-length": "nope"})) < 0


def test_garbage_turns_the_stream_opaque_instead_of_raising() -> None:
    ms = MessageStream(lambda: None, lambda h: CHUNKED, lambda: None)
    ms.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert ms.opaque
    ms.feed(b"anything at all")  # and stays quiet
    huge = MessageStream(lambda: None, lambda h: 0, lambda: None)
    huge.feed(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70_000)
    assert huge.opaque


def test_protocol_sniffing() -> None:
    assert looks_like_http(b"POST /x HTTP/1.1\r\n") is True
    assert looks_like_http(b"\r\nGET /") is True
    assert looks_like_http(b"PO") is None  # too few bytes to tell
    assert looks_like_http(b"*1\r\n$4\r\nPING\r\n") is False  # Redis
    assert looks_like_http(b"\x16\x03\x01") is False  # TLS
    assert looks_like_http(b"PRI * HTTP/2.0\r\n") is False  # HTTP/2 prior knowledge


# -- the tap -----------------------------------------------------------------------------------

def test_a_call_is_timed_from_the_first_request_byte_to_the_last_answer_byte() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(REQ[:20])
    clock.t += 0.010
    tap.client_bytes(REQ[20:])
    clock.t += 0.200
    tap.server_bytes(RESP[:10])  # first byte of the answer at +210 ms
    clock.t += 0.050
    assert _calls(log) == []  # not over yet
    assert tap.in_flight == 1
    tap.server_bytes(RESP[10:])
    [call] = _calls(log)
    assert call["endpoint"] == "embeddings" and call["method"] == "POST" and call["path"] == "/v1/embeddings"
    assert call["duration_us"] == 260_000 and call["first_byte_us"] == 210_000
    assert call["status"] == 200 and call["outcome"] == "ok" and call["retry"] == 1
    assert call["start"] == pytest.approx(1_100.0)
    assert tap.in_flight == 0


def test_keep_alive_and_pipelined_calls_are_matched_in_order() -> None:
    tap, clock, log = _tap()
    chat = REQ.replace(b"/v1/embeddings", b"/v1/chat/completions").replace(b"count: 1", b"count: 0")
    tap.client_bytes(REQ + chat)  # two requests before any answer
    clock.t += 0.1
    tap.server_bytes(RESP + b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\r\n{}")
    first, second = _calls(log)
    assert (first["endpoint"], first["status"], first["outcome"]) == ("embeddings", 200, "ok")
    assert (second["endpoint"], second["status"], second["outcome"]) == ("chat", 429, "http_error")
    assert second["retry"] == 0


def test_a_streamed_answer_ends_with_its_last_chunk_and_first_byte_is_kept() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(REQ)
    clock.t += 0.05
    tap.server_bytes(CHUNKED_RESP[:60])
    clock.t += 1.0
    tap.server_bytes(CHUNKED_RESP[60:])
    [call] = _calls(log)
    assert call["first_byte_us"] == 50_000 and call["duration_us"] == 1_050_000


def test_interim_answers_head_and_204_have_no_body() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(b"HEAD /api/v2/heartbeat HTTP/1.1\r\n\r\n")
    tap.server_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n")  # HEAD: the length is not sent
    tap.client_bytes(b"DELETE /x/1 HTTP/1.1\r\n\r\n")
    tap.server_bytes(b"HTTP/1.1 204 No Content\r\n\r\n")
    tap.client_bytes(b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    clock.t += 0.01
    tap.server_bytes(b"HTTP/1.1 100 Continue\r\n\r\n")
    tap.client_bytes(b"{}")
    clock.t += 0.02
    tap.server_bytes(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    calls = _calls(log)
    assert [(c["method"], c["status"]) for c in calls] == [("HEAD", 200), ("DELETE", 204), ("POST", 201)]
    assert calls[2]["first_byte_us"] == 30_000  # the answer's first byte, not the 100 Continue's


def test_what_the_connection_lost_is_recorded_as_no_response_or_incomplete() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(REQ + REQ)
    clock.t += 0.3
    tap.server_bytes(RESP[:8])  # half a status line, then the connection dies
    tap.closed()
    first, second = _calls(log)
    assert first["outcome"] == "incomplete" and first["duration_us"] == 300_000
    assert second["outcome"] == "no_response" and second["first_byte_us"] is None
    assert len(_calls(log, "open")) == 1
    [conn] = _calls(log, "close")
    assert conn["calls"] == 2 and conn["mode"] == "http" and conn["bytes_up"] == 2 * len(REQ)
    assert log.counter("app_dep").open == 0 and log.counter("app_dep").connections == 1


def test_an_answer_without_a_length_ends_when_the_server_closes() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(b"GET /old HTTP/1.1\r\n\r\n")
    tap.server_bytes(b"HTTP/1.1 200 OK\r\n\r\nstreaming until close")
    assert tap.responses.until_close and _calls(log) == []
    clock.t += 0.5
    tap.closed()
    [call] = _calls(log)
    assert call["outcome"] == "ok" and call["duration_us"] == 500_000


def test_other_protocols_are_timed_by_exchange() -> None:
    tap, clock, log = _tap()
    tap.client_bytes(b"*1\r\n$4\r\nPING\r\n")
    clock.t += 0.002
    tap.server_bytes(b"+PO")
    clock.t += 0.001
    tap.server_bytes(b"NG\r\n")
    clock.t += 1.0  # idle: not part of any exchange
    tap.client_bytes(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    clock.t += 0.004
    tap.closed()  # no answer to the second
    first, second = _calls(log, "tcp")
    assert first["duration_us"] == 3_000 and first["first_byte_us"] == 2_000 and first["outcome"] == "ok"
    assert second["outcome"] == "no_response" and second["endpoint"] == "exchange"
    assert _calls(log, "close")[0]["mode"] == "tcp"


def test_a_server_that_speaks_first_is_not_http() -> None:
    tap, _, log = _tap()
    tap.server_bytes(b"220 smtp ready\r\n")
    tap.client_bytes(b"HELO x\r\n")
    tap.server_bytes(b"250 hi\r\n")
    tap.closed()
    assert tap.mode == "tcp" and len(_calls(log, "tcp")) == 2


def test_an_error_in_the_tap_stops_timing_but_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    tap, _, log = _tap()

    def boom(data: bytes) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(tap, "_client_bytes", boom)
    tap.client_bytes(REQ)  # must not raise: the proxy's data path calls this
    assert tap.mode == "off" and log.counter("app_dep").tap_errors == 1


# -- the ring ----------------------------------------------------------------------------------

def test_readers_page_with_a_cursor_and_are_told_what_they_lost() -> None:
    log = CallLog(capacity=5)
    for i in range(8):
        log.add({"proxy": "p", "kind": "http", "i": i})
    page = log.since(0, 100)
    assert [r["i"] for r in page["records"]] == [3, 4, 5, 6, 7] and page["lost"] == 3
    assert page["next"] == 8 == page["last"]
    page = log.since(5, 1)
    assert [r["seq"] for r in page["records"]] == [6] and page["next"] == 6 and page["lost"] == 0
    assert log.since(8, 10)["records"] == [] and log.since(8, 10)["next"] == 8
    assert page["proxies"]["p"]["calls"] == 8


# -- endpoint names ----------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "name"), [
    ("POST", "/v1/embeddings", "embeddings"),
    ("POST", "/v1/chat/completions", "chat"),
    ("POST", "/openai/v1/responses", "responses"),
    ("POST", "/api/v2/tenants/default_tenant/databases/default_database/collections/"
             "3f2a7c1e-9b1d-4c3a-8e2f-0a1b2c3d4e5f/query", "query"),
    ("POST", "/api/v2/tenants/t/databases/d/collections/3f2a7c1e-9b1d-4c3a-8e2f-0a1b2c3d4e5f/upsert", "upsert"),
    ("POST", "/api/v2/tenants/t/databases/d/collections", "create_collection"),
    ("GET", "/api/v2/tenants/t/databases/d/collections/reference_docs", "get_collection"),
    ("GET", "/api/v2/tenants/default_tenant", "tenant"),
    ("GET", "/api/v2/heartbeat", "heartbeat"),
    ("GET", "/api/items/42", "items"),
    ("GET", "/", "root"),
    ("GET", "/Search-Now", "search_now"),
])
def test_endpoint_names(method: str, path: str, name: str) -> None:
    assert endpoint_of(method, path) == name

