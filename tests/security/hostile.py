"""A seeded generator of hostile requests, and a runner that counts 5xx answers and hangs.

schemathesis draws from a service's own schema, so it rarely sends what a schema cannot say:
an operator as a metadata key (``{"$bad": 1}``), a filter shaped as Chroma's own syntax
(``{"$and": 1}``), ``top_k: "5"``, NaN, an integer past 64 bits, a temperature of 5, a slicer
with no attributes. ``cases(service, n, seed)`` mixes such values into otherwise valid bodies
(one or two fields changed per case, so most cases reach deep into the service), plus broken
JSON and wrong shapes; the same seed gives the same cases. ``run(base_url, cases)`` sends them
from a few threads, each with a client timeout: a timeout is a hang, a 5xx is a failure.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Case", "Outcome", "SERVICES", "cases", "go_listen_error", "run"]

NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 5, 2**63, 2**64, -(2**63) - 1, 1.5, -0.0, 1e308, "", " ", "5", "true", "$and",
    "x" * 5000, "\u0000", "é\u202e", [], [1], {}, {"$in": "x"}, {"$and": 1}, {"$gt": 1}, {"a": {"b": 1}},
    float("nan"), float("inf"), float("-inf"),
]
OPERATOR_KEYS = ["$bad", "$and", "$or", "$in", "$nin", "$eq", "$ne", "$gt", "$contains", "_hidden", "", " x", "a" * 65,
                 "tenant", "doc_id", "chunk_index", "ok-key", "année", "a\u0000b"]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: bytes | None
    what: str


@dataclass
class Outcome:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)


def _dump(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True).encode()  # NaN/Infinity are sent as Python writes them


def _mutate(rng: random.Random, base: dict[str, Any], fields: list[str], nested: dict[str, list[str]]) -> tuple[Any, str]:
    body = json.loads(json.dumps(base))
    what = []
    for _ in range(rng.choice((1, 1, 2))):
        roll = rng.random()
        if roll < 0.15 and body:
            gone = rng.choice(list(body))
            del body[gone]
            what.append(f"-{gone}")
        elif roll < 0.25:
            body[rng.choice(["nope", "$and", "extra"])] = rng.choice(NASTY)
            what.append("+field")
        elif roll < 0.55 and nested:
            name = rng.choice(list(nested))
            inner = {rng.choice(OPERATOR_KEYS + nested[name]): rng.choice(NASTY) for _ in range(rng.randint(1, 3))}
            body[name] = inner
            what.append(f"{name}={list(inner)}")
        else:
            name = rng.choice(fields)
            body[name] = rng.choice(NASTY)
            what.append(f"{name}={str(body[name])[:20]!r}")
    return body, " ".join(what)


def _shapes(rng: random.Random) -> tuple[bytes, str]:
    return rng.choice([
        (b"", "empty"), (b"{", "truncated"), (b"[]", "array"), (b"null", "null"), (b'"x"', "string"),
        (b"\xff\xfe{}", "not utf-8"), (b'{"a": NaN}', "NaN"), (b"{" * 2000, "deep"), (b"1e999999", "huge number"),
    ])


def _app_cases(rng: random.Random) -> Iterator[Case]:
    query = {"tenant": "hostile", "question": "what is the refund policy?", "top_k": 3, "filters": {"kind": "faq"}}
    doc = {"tenant": "hostile", "doc_id": "doc-1", "text": "Refunds are paid within 14 days. " * 5,
           "metadata": {"kind": "faq", "year": 2024}}
    while True:
        roll = rng.random()
        if roll < 0.45:
            body, what = _mutate(rng, query, ["tenant", "question", "top_k", "filters", "stream"], {"filters": ["kind"]})
            yield Case("POST", "/v1/query", _dump(body), f"query {what}")
        elif roll < 0.85:
            body, what = _mutate(rng, {**doc, "doc_id": f"doc-{rng.randrange(20)}"}, ["tenant", "doc_id", "text", "metadata"],
                                 {"metadata": ["kind", "year"]})
            yield Case("POST", "/v1/documents", _dump(body), f"document {what}")
        elif roll < 0.95:
            raw, what = _shapes(rng)
            yield Case("POST", rng.choice(["/v1/query", "/v1/documents"]), raw, what)
        else:
            yield Case("GET", rng.choice([f"/v1/jobs/{rng.getrandbits(128):032x}", "/v1/jobs/..%2f", "/v1/nope"]),
                       None, "get")


def _provider_cases(rng: random.Random) -> Iterator[Case]:
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8,
            "temperature": 0.2}
    emb = {"model": "text-embedding-3-small", "input": "hello"}
    params = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
              "stream_options", "presence_penalty", "frequency_penalty", "seed", "top_logprobs", "logprobs"]
    while True:
        roll = rng.random()
        if roll < 0.6:
            body, what = _mutate(rng, chat, params, {"stream_options": ["include_usage"]})
            if rng.random() < 0.2:
                body["messages"] = [{"role": rng.choice(NASTY), "content": rng.choice(NASTY)}]
                what += " messages"
            yield Case("POST", "/v1/chat/completions", _dump(body), f"chat {what}")
        elif roll < 0.9:
            body, what = _mutate(rng, emb, ["model", "input", "encoding_format", "dimensions", "user"], {})
            yield Case("POST", "/v1/embeddings", _dump(body), f"embeddings {what}")
        else:
            raw, what = _shapes(rng)
            yield Case("POST", rng.choice(["/v1/chat/completions", "/v1/embeddings"]), raw, what)


TOXIC_TYPES = ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "noop", "nope", ""]
TOXIC_ATTRS = ["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes"]


def _proxy_cases(rng: random.Random, proxy: str) -> Iterator[Case]:
    while True:
        roll = rng.random()
        if roll < 0.55:
            body: dict[str, Any] = {"type": rng.choice(TOXIC_TYPES)}
            if rng.random() < 0.7:
                body["attributes"] = {rng.choice(TOXIC_ATTRS): rng.choice(NASTY + [-100, 0, 10**6, 2**62])
                                      for _ in range(rng.randint(0, 3))}
            for opt, values in (("stream", ["upstream", "downstream", "UPSTREAM", "sideways", None, 1]),
                                ("toxicity", [0, 0.5, 1, 1.5, -1, "x", None]), ("name", ["t", "", None, 5])):
                if rng.random() < 0.3:
                    body[opt] = rng.choice(values)
            yield Case("POST", f"/proxies/{proxy}/toxics", _dump(body), f"toxic {body}"[:200])
        elif roll < 0.7:
            body = {rng.choice(["attributes", "toxicity", "name"]): rng.choice(NASTY)}
            yield Case("PATCH", f"/proxies/{proxy}/toxics/{rng.choice(['t', 'latency_downstream', 'nope'])}",
                       _dump(body), f"update {body}"[:200])
        elif roll < 0.85:
            body = {"name": rng.choice(["p-x", "", None, 5]), "listen": rng.choice(
                ["127.0.0.1:0", "local373", "127.0.0.1:99999", "[::1", "nosuchhost.invalid:1", "", 5]),
                "upstream": rng.choice(["127.0.0.1:1", "", None]), "enabled": rng.choice([True, False, "x", None])}
            path = rng.choice(["/proxies", "/populate", f"/proxies/{proxy}"])
            yield Case("POST", path, _dump([body] if path == "/populate" else body), f"{path} {body}"[:200])
        elif roll < 0.95:
            raw, what = _shapes(rng)
            yield Case("POST", rng.choice([f"/proxies/{proxy}/toxics", "/proxies", "/populate"]), raw, what)
        else:
            yield Case("DELETE", f"/proxies/{proxy}/toxics/{rng.choice(['t', 'nope'])}", None, "delete toxic")


SERVICES: dict[str, Callable[[random.Random], Iterator[Case]]] = {
    "app": _app_cases,
    "provider": _provider_cases,
    "proxy": lambda rng: _proxy_cases(rng, "hostile"),
}


_Q = {"tenant": "hostile", "question": "refunds?"}
_D = {"tenant": "hostile", "doc_id": "doc-1", "text": "Refunds are paid within 14 days."}
# the inputs issue 17 found, first in every run whatever the count
KNOWN: dict[str, list[Case]] = {
    "app": [Case("POST", "/v1/documents", _dump({**_D, "metadata": {"$bad": 1}}), "metadata $bad"),
            Case("POST", "/v1/query", _dump({**_Q, "filters": {"$and": 1}}), "filters $and"),
            Case("POST", "/v1/query", _dump({**_Q, "filters": {"$in": "x"}}), "filters $in"),
            Case("POST", "/v1/query", _dump({**_Q, "top_k": "5"}), "top_k string"),
            Case("POST", "/v1/query", _dump({**_Q, "top_k": True}), "top_k bool"),
            Case("POST", "/v1/query", b'{"tenant": "hostile", "question": "q", "filters": {"a": NaN}}', "NaN")],
    "provider": [Case("POST", "/v1/chat/completions", _dump({"model": "gpt-4o-mini", "temperature": 5,
                                                              "messages": [{"role": "user", "content": "hi"}]}),
                      "temperature 5"),
                 Case("POST", "/v1/chat/completions", _dump({"model": "gpt-4o-mini",
                                                             "messages": [{"role": ["user"], "content": "hi"}]}),
                      "role a list")],
    "proxy": [Case("POST", "/proxies/hostile/toxics", _dump({"type": "slicer"}), "slicer, no attributes"),
              Case("POST", "/proxies/hostile/toxics", _dump({"type": "bandwidth", "name": "neg",
                                                             "attributes": {"rate": -1}}), "negative rate"),
              Case("POST", "/proxies", _dump({"name": "p-bad", "listen": "local373", "upstream": "127.0.0.1:1"}),
                   "listen without a port")],
}


def cases(service: str, n: int, seed: int = 17) -> list[Case]:
    """``n`` cases: the known ones first, then generated ones (the same for the same seed)."""
    gen = SERVICES[service](random.Random(seed))
    known = KNOWN[service][:n]
    return known + [next(gen) for _ in range(n - len(known))]


def go_listen_error(response: httpx.Response) -> bool:
    """The fault proxy's one documented 5xx: Go's error for a listen address that will not bind or
    resolve, a 500 as the real Toxiproxy answers it (a client written against it expects that)."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return response.status_code == 500 and isinstance(error, str) and error.startswith(("listen tcp", "address "))


def run(base_url: str, todo: list[Case], *, headers: dict[str, str] | None = None, workers: int = 8,
        timeout_s: float = 30.0, after: Callable[[Case, httpx.Response], None] | None = None,
        documented: Callable[[httpx.Response], bool] = lambda r: False) -> Outcome:
    out = Outcome()

    def send(case: Case) -> tuple[Case, httpx.Response | None]:
        with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
            try:
                return case, client.request(case.method, case.path, content=case.body,
                                            headers={"Content-Type": "application/json", **(headers or {})})
            except httpx.TimeoutException:
                return case, None

    with ThreadPoolExecutor(workers) as pool:
        for case, response in pool.map(send, todo):
            out.sent += 1
            if response is None:
                out.hangs.append(f"{case.method} {case.path} {case.what}")
                continue
            out.statuses[response.status_code] += 1
            if response.status_code >= 500 and not documented(response):
                out.server_errors.append(f"{case.method} {case.path} {case.what} -> {response.status_code} "
                                         f"{response.text[:200]}")
            if after is not None:
                after(case, response)
    return out
