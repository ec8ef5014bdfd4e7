"""The live view's defences against other web pages: Host, Origin, Sec-Fetch-Site, JSON, header.

``guard.check`` alone (pure), then through the real web app, where a refused control request
must leave the fault board untouched (the board here applies to a real provider process).
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from ragchaos.faults.appliers import ProviderApplier
from ragchaos.live import guard
from ragchaos.live.board import FaultBoard
from ragchaos.live.server import create_app
from ragchaos.live.session import Attachment, LiveSession
from ragchaos.live.settings import LiveSettings
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loader import parse_scenario
from ragchaos.scenarios.requests import Workbench

SETTINGS = LiveSettings(port=18123)
GOOD = {"Host": "127.0.0.1:18123", "Origin": "http://127.0.0.1:18123", "Content-Type": "application/json",
        "X-Ragchaos-Live": "1", "Sec-Fetch-Site": "same-origin"}


def _check(method: str, **changes: str | None) -> tuple[int, str] | None:
    headers = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return guard.check(method, headers, hosts=SETTINGS.hosts, origins=SETTINGS.origins)


def test_the_pages_own_requests_pass() -> None:
    assert _check("POST") is None
    assert _check("POST", Origin=None, **{"Sec-Fetch-Site": None}) is None  # curl, or an older browser
    assert _check("POST", Host="localhost:18123", Origin="http://localhost:18123") is None
    assert _check("GET", Origin="http://evil.example") is None  # reads are guarded by Host only


@pytest.mark.parametrize(("method", "changes", "status", "words"), [
    ("GET", {"Host": "rebind.example:18123"}, 403, "Host"),  # DNS rebinding: the attacker's name
    ("POST", {"Host": "rebind.example:18123", "Origin": "http://rebind.example:18123"}, 403, "Host"),
    ("POST", {"Origin": "http://127.0.0.1:9999"}, 403, "Origin"),  # same site, another port
    ("POST", {"Origin": "null"}, 403, "Origin"),  # a sandboxed iframe or a file:// page
    ("POST", {"Origin": None, "Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site"),
    ("POST", {"Content-Type": "text/plain"}, 415, "JSON"),  # a no-cors fetch: sent without a preflight
    ("POST", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "JSON"),  # a form post
    ("POST", {"X-Ragchaos-Live": None}, 403, "X-Ragchaos-Live"),
])
def test_anything_else_is_refused(method: str, changes: dict[str, str | None], status: int, words: str) -> None:
    refused = _check(method, **changes)
    assert refused is not None and refused[0] == status and words in refused[1]


@pytest.fixture
def board_app(provider):
    scenario = parse_scenario("name: g\nseed: 1\ncorpus: {tenants: 1, documents_per_tenant: 2}\n"
                              "load: {kind: arrivals, stages: [{duration: 5s, rate: 1}]}\n")
    ctx = RunContext(Workbench(scenario), {"naive": "http://127.0.0.1:9", "reference": "http://127.0.0.1:9"})
    board = FaultBoard({"provider": ProviderApplier(provider.url)}, ["naive", "reference"])
    session = LiveSession(SETTINGS)

    class NoLoad:  # the controls need a load to exist; these tests press faults only
        def describe(self) -> dict[str, object]:
            return {}

    session.attach(Attachment(ctx, feeds=None, board=board, load=NoLoad()))
    app = create_app(SETTINGS, session)
    try:
        yield app.test_client(), board, provider
    finally:
        board.close()


def _provider_faults(provider) -> list[dict]:
    with urllib.request.urlopen(f"{provider.url}/_control/faults", timeout=5) as resp:
        body = json.loads(resp.read())
    return body if isinstance(body, list) else body.get("faults", [])


@pytest.mark.parametrize("changes", [
    {"Origin": "http://127.0.0.1:9999"}, {"Content-Type": "text/plain"}, {"X-Ragchaos-Live": None},
    {"Host": "rebind.example:18123", "Origin": "http://rebind.example:18123"},
])
def test_a_refused_press_applies_nothing(board_app, changes) -> None:
    client, board, provider = board_app
    headers = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    resp = client.post("/api/faults", data=json.dumps({"preset": "provider_429_storm"}), headers=headers)
    assert resp.status_code in (403, 415)
    assert "error" in resp.get_json() and "Traceback" not in resp.get_data(as_text=True)
    assert board.bands == [] and _provider_faults(provider) == []


def test_the_pages_press_reaches_the_provider_and_clear_takes_it_off(board_app) -> None:
    client, board, provider = board_app
    resp = client.post("/api/faults", data=json.dumps({"preset": "provider_429_storm", "target": "reference"}),
                       headers=GOOD)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    band = resp.get_json()
    assert band["targets"] == ["reference"] and band["end"] is None
    faults = _provider_faults(provider)
    assert [f["key"] for f in faults] == ["reference"] and faults[0]["kind"] == "rate_limit"
    resp = client.post("/api/faults/clear", data="{}", headers=GOOD)
    assert resp.status_code == 200 and resp.get_json()[0]["end"] is not None
    assert _provider_faults(provider) == []


@pytest.mark.parametrize(("body", "words"), [
    ('{"preset": "provider_492_storm"}', "did you mean 'provider_429_storm'"),
    ('{"preset": "provider_429_storm", "target": "nobody"}', "unknown target 'nobody'"),
    ('{"preset": 7}', '"preset"'),
    ("[1, 2]", "JSON object"),
    ("{not json", "not valid JSON"),
])
def test_bad_bodies_get_a_clear_400(board_app, body: str, words: str) -> None:
    client, board, _ = board_app
    resp = client.post("/api/faults", data=body, headers=GOOD)
    assert resp.status_code == 400 and words in resp.get_json()["error"], resp.get_data(as_text=True)
    assert board.bands == []


def test_unknown_paths_and_methods_answer_json(board_app) -> None:
    client, _, _ = board_app
    for resp in (client.get("/api/nothing", headers=GOOD), client.delete("/api/faults", headers=GOOD),
                 client.get("/report/", headers=GOOD)):
        assert 400 <= resp.status_code < 500 and "error" in resp.get_json()
