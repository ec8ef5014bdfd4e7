"""The fault timeline: on-time apply/revert (fake clock), revert-all after errors and Ctrl-C, and the
same against the real built-in proxy and the real provider process."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from ragchaos.faults.appliers import NetworkApplier, ProviderApplier
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.errors import NotFound
from ragchaos.faults.step import FaultStep
from ragchaos.faults.timeline import Timeline


class FakeClock:
    """A clock that moves only when the timeline sleeps; ``on_sleep`` may raise to simulate Ctrl-C."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.on_sleep: Any = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(self.now - 1000.0)


class Recorder:
    """An applier that records calls with the (fake) time; a test double for the schedule logic only."""

    def __init__(self, clock: FakeClock, fail_apply: set[str] = frozenset(), fail_revert: set[str] = frozenset()):
        self.clock = clock
        self.calls: list[tuple[str, str, str, float]] = []
        self.fail_apply = fail_apply
        self.fail_revert = fail_revert

    def apply(self, step: FaultStep, target: str, duration_s: float | None) -> str:
        if step.step_name in self.fail_apply:
            raise RuntimeError("proxy not found")
        self.calls.append(("apply", step.step_name, target, self.clock.now - 1000.0))
        return f"{step.step_name}@{target}"

    def revert(self, step: FaultStep, target: str, handle: Any) -> None:
        assert handle == f"{step.step_name}@{target}"
        self.calls.append(("revert", step.step_name, target, self.clock.now - 1000.0))
        if step.step_name in self.fail_revert:
            raise RuntimeError("toxic not found")


def steps(*raw: dict) -> list[FaultStep]:
    return [FaultStep.model_validate(r) for r in raw]


LAT = {"kind": "latency", "latency_ms": 100}


def make(clock: FakeClock, recorder: Recorder, *raw: dict, apps=("naive", "reference")) -> Timeline:
    return Timeline(steps(*raw), apps=list(apps), clock=clock, sleep=clock.sleep,
                    appliers={"network": recorder, "provider": recorder})


def test_applies_and_reverts_on_time():
    clock = FakeClock()
    rec = Recorder(clock)
    tl = make(clock, rec,
              {"name": "a", "at": 10, "duration": 5, "app": "naive", "dependency": "vectordb", "fault": LAT},
              {"name": "b", "at": "12s", "app": "both", "dependency": "provider", "fault": {"kind": "rate_limit"}})
    records = tl.run(duration_s=30)
    assert rec.calls == [
        ("apply", "a", "naive", 10.0),
        ("apply", "b", "naive", 12.0),
        ("apply", "b", "reference", 12.0),
        ("revert", "a", "naive", 15.0),
        ("revert", "b", "reference", 30.0),  # no duration: at the end, last applied first
        ("revert", "b", "naive", 30.0),
    ]
    assert [(r.name, r.target, r.applied_at_s, r.reverted_at_s, r.error) for r in records] == [
        ("a", "naive", 10.0, 15.0, None), ("b", "naive", 12.0, 30.0, None), ("b", "reference", 12.0, 30.0, None)]
    assert records[0].results_entry() == {"name": "a", "target": "naive", "dependency": "vectordb",
                                          "what": records[0].what, "applied_at_s": 10.0, "reverted_at_s": 15.0,
                                          "error": None}


def test_steps_after_the_end_never_apply_and_revert_all_is_idempotent():
    clock = FakeClock()
    rec = Recorder(clock)
    tl = make(clock, rec, {"name": "late", "at": 50, "app": "naive", "dependency": "vectordb", "fault": LAT},
              {"name": "early", "at": 0, "app": "naive", "dependency": "vectordb", "fault": LAT})
    tl.run(duration_s=20)
    tl.revert_all()
    tl.revert_all()
    assert rec.calls == [("apply", "early", "naive", 0.0), ("revert", "early", "naive", 20.0)]


def test_revert_all_after_ctrl_c():
    clock = FakeClock()
    rec = Recorder(clock)

    def interrupt(elapsed: float) -> None:
        if elapsed >= 13:
            raise KeyboardInterrupt

    clock.on_sleep = interrupt
    tl = make(clock, rec,
              {"name": "a", "at": 10, "duration": 60, "app": "both", "dependency": "vectordb", "fault": LAT},
              {"name": "b", "at": 20, "app": "naive", "dependency": "vectordb", "fault": LAT})
    with pytest.raises(KeyboardInterrupt):
        tl.run(duration_s=100)
    assert sorted(c[:3] for c in rec.calls if c[0] == "revert") == [("revert", "a", "naive"), ("revert", "a", "reference")]
    assert all(r.reverted_at_s is not None for r in tl.records if r.name == "a")
    assert [r.applied_at_s for r in tl.records if r.name == "b"] == [None]
    assert not any(c[1] == "b" for c in rec.calls)


def test_errors_are_recorded_and_the_run_goes_on():
    clock = FakeClock()
    rec = Recorder(clock, fail_apply={"x"}, fail_revert={"y"})
    tl = make(clock, rec,
              {"name": "x", "at": 1, "app": "naive", "dependency": "vectordb", "fault": LAT},
              {"name": "y", "at": 2, "duration": 1, "app": "naive", "dependency": "vectordb", "fault": LAT},
              {"name": "z", "at": 3, "app": "naive", "dependency": "vectordb", "fault": LAT})
    records = {r.name: r for r in tl.run(duration_s=10)}
    assert records["x"].error == "apply: proxy not found" and records["x"].applied_at_s is None
    assert records["y"].error == "revert: toxic not found" and records["y"].reverted_at_s == 3.0
    assert records["z"].error is None and records["z"].reverted_at_s == 10.0


def test_stop_ends_the_run_early():
    clock = FakeClock()
    rec = Recorder(clock)
    tl = make(clock, rec, {"name": "a", "at": 1, "app": "naive", "dependency": "vectordb", "fault": LAT})
    clock.on_sleep = lambda elapsed: tl.stop() if elapsed >= 5 else None
    tl.run()  # no duration: until stop()
    assert rec.calls[-1][0] == "revert" and 5.0 <= rec.calls[-1][3] <= 5.5


def test_validate_names_and_missing_channels():
    clock = FakeClock()
    tl = Timeline(steps({"name": "a", "at": 1, "dependency": "provider", "fault": {"kind": "error"}},
                        {"name": "a", "at": 2, "dependency": "vectordb", "fault": LAT}),
                  clock=clock, sleep=clock.sleep)
    problems = tl.validate(60)
    assert any("used twice" in p for p in problems)
    assert any("provider faults need" in p for p in problems)
    assert any("network faults need" in p for p in problems)
    assert [p.describe() for p in tl.plan(60)][0].startswith("1s → the end")


# -- against the real built-in proxy -----------------------------------------------------------
@pytest.fixture
def proxies(client, names, echo):
    """naive_vectordb and reference_vectordb (uniquely prefixed) in front of an echo server."""
    prefix = names("app")
    made = {}
    for app in ("naive", "reference"):
        made[app] = client.create_proxy(f"{prefix}{app}_vectordb", echo.addr)
    yield prefix, made
    for p in made.values():
        with contextlib.suppress(NotFound):
            client.delete_proxy(p.name)


def test_network_steps_on_the_real_proxy_with_a_fake_clock(client, proxies):
    prefix, made = proxies
    clock = FakeClock()
    seen: dict[float, dict[str, Any]] = {}

    def look(elapsed: float) -> None:
        seen[round(elapsed, 3)] = {app: client.get_proxy(p.name) for app, p in made.items()}

    clock.on_sleep = look
    tl = Timeline(
        steps({"name": "lat", "at": 2, "duration": 3, "app": "both", "dependency": "vectordb",
               "fault": {"kind": "latency", "latency_ms": 50, "stream": "both"}},
              {"name": "cut", "at": 4, "duration": 2, "app": "reference", "dependency": "vectordb",
               "fault": {"kind": "down"}}),
        toxiproxy=client, proxy_name=lambda app, dep: f"{prefix}{app}_{dep}",
        clock=clock, sleep=clock.sleep, poll_s=0.5,
    )
    records = tl.run(duration_s=8)
    assert all(r.error is None for r in records), records
    at = {t: {app: ([x.name for x in p.toxics], p.enabled) for app, p in s.items()} for t, s in seen.items()}
    assert at[1.5] == {"naive": ([], True), "reference": ([], True)}
    assert at[2.5]["naive"] == (["lat_upstream", "lat_downstream"], True)
    assert at[4.5]["reference"] == (["lat_upstream", "lat_downstream"], False)
    assert at[5.5] == {"naive": ([], True), "reference": ([], False)}
    assert at[6.5] == {"naive": ([], True), "reference": ([], True)}


def test_real_time_apply_and_revert_with_traffic(client, proxies):
    """Wall clock: a 300 ms latency step from 0.3 s to 1.0 s shows in round trips, then goes away."""
    import socket

    prefix, made = proxies
    tl = Timeline(
        steps({"name": "lat", "at": 0.3, "duration": 0.7, "app": "naive", "dependency": "vectordb",
               "fault": {"kind": "latency", "latency_ms": 300}}),
        toxiproxy=client, proxy_name=lambda app, dep: f"{prefix}{app}_{dep}", poll_s=0.05,
    )
    with socket.create_connection(("127.0.0.1", made["naive"].port), timeout=5) as sock:
        import threading

        runner = threading.Thread(target=tl.run, args=(1.4,))
        runner.start()
        time.sleep(0.5)  # inside the step
        start = time.monotonic()
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
        slow = time.monotonic() - start
        runner.join(10)
        start = time.monotonic()
        sock.sendall(b"y")
        assert sock.recv(1) == b"y"
        fast = time.monotonic() - start
    record = tl.records[0]
    assert record.error is None
    assert 0.3 <= record.applied_at_s < 0.8
    assert 1.0 <= record.reverted_at_s < 2.0
    assert slow >= 0.25 and fast < 0.25
    assert client.toxics(made["naive"].name) == []


def test_exception_reverts_everything_on_the_real_proxy(client, proxies):
    prefix, made = proxies
    clock = FakeClock()

    def boom(elapsed: float) -> None:
        if elapsed >= 3:
            raise RuntimeError("the load generator crashed")

    clock.on_sleep = boom
    tl = Timeline(
        steps({"name": "bw", "at": 1, "app": "both", "dependency": "vectordb",
               "fault": {"kind": "bandwidth", "rate_kbps": 10}},
              {"name": "dn", "at": 2, "app": "naive", "dependency": "vectordb", "fault": {"kind": "down"}}),
        toxiproxy=client, proxy_name=lambda app, dep: f"{prefix}{app}_{dep}", clock=clock, sleep=clock.sleep,
    )
    with pytest.raises(RuntimeError):
        tl.run(duration_s=60)
    for p in made.values():
        now = client.get_proxy(p.name)
        assert now.toxics == () and now.enabled
    assert all(r.reverted_at_s is not None for r in tl.records)


def test_missing_proxy_is_an_error_in_the_record(client):
    clock = FakeClock()
    tl = Timeline(steps({"name": "x", "at": 0, "app": "ghost", "dependency": "vectordb", "fault": LAT}),
                  toxiproxy=client, clock=clock, sleep=clock.sleep, apps=["ghost"])
    record = tl.run(duration_s=1)[0]
    assert record.applied_at_s is None and "proxy not found" in record.error


# -- against the real provider process ---------------------------------------------------------
def _embed(provider_url: str, key: str) -> int:
    req = urllib.request.Request(
        f"{provider_url}/v1/embeddings", method="POST",
        data=json.dumps({"model": "text-embedding-3-small", "input": "hello"}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _faults(provider_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{provider_url}/_control/faults", timeout=5) as resp:
        return json.loads(resp.read())["faults"]


@pytest.mark.slow
def test_provider_steps_on_the_real_provider(provider):
    url = provider.url
    clock = FakeClock()
    seen: dict[float, tuple[int, int, list[str]]] = {}

    def look(elapsed: float) -> None:
        seen[round(elapsed, 3)] = (_embed(url, "naive"), _embed(url, "reference"),
                                   sorted(f["id"] for f in _faults(url)))

    clock.on_sleep = look
    tl = Timeline(
        steps({"name": "storm", "at": 1, "duration": 2, "app": "naive", "dependency": "provider",
               "fault": {"kind": "rate_limit", "retry_after_s": 2}},
              {"name": "down5xx", "at": 2, "duration": 2, "app": "both", "dependency": "provider",
               "fault": {"kind": "error", "status": 502, "endpoint": "embeddings"}}),
        provider_control_url=url, clock=clock, sleep=clock.sleep, poll_s=0.5,
    )
    assert tl.validate(10) == []
    records = tl.run(duration_s=5)
    assert all(r.error is None for r in records), records
    assert seen[0.5] == (200, 200, [])
    assert seen[1.5] == (429, 200, ["storm.naive"])
    assert seen[2.5][2] == ["down5xx.naive", "down5xx.reference", "storm.naive"]
    assert seen[2.5][1] == 502
    assert seen[3.5] == (502, 502, ["down5xx.naive", "down5xx.reference"])
    assert seen[4.5] == (200, 200, [])


@pytest.mark.slow
def test_provider_applier_errors_are_clear(provider):
    applier = ProviderApplier(provider.url)
    step = FaultStep.model_validate({"at": 0, "dependency": "provider", "fault": {"kind": "slow", "factor": 2}})
    handle = applier.apply(step, "naive", 5)
    assert handle == f"{step.step_name}.naive"
    applier.revert(step, "naive", handle)
    applier.revert(step, "naive", handle)  # already gone: fine
    dead = ProviderApplier("http://127.0.0.1:9", timeout=1)
    with pytest.raises(Exception, match="_control/faults"):
        dead.apply(step, "naive", 5)


def test_network_applier_rolls_back_half_applied_steps(client, proxies):
    prefix, made = proxies
    applier = NetworkApplier(client, lambda app, dep: f"{prefix}{app}_{dep}")
    client.add_toxic(made["naive"].name, type="noop", stream="downstream", name="clash_downstream")
    step = FaultStep.model_validate({"name": "clash", "at": 0, "app": "naive", "dependency": "vectordb",
                                     "fault": {"kind": "latency", "latency_ms": 5, "stream": "both"}})
    with pytest.raises(Exception, match="toxic already exists"):
        applier.apply(step, "naive", None)
    # the upstream half was added, then taken back
    assert [t.name for t in client.toxics(made["naive"].name)] == ["clash_downstream"]


def test_client_raises_typed_errors(client, toxiproxy):
    from ragchaos.faults.errors import BadRequest, Conflict, ServerError, ToxiproxyUnreachable

    with pytest.raises(NotFound):
        client.get_proxy("no_such_proxy")
    with pytest.raises(BadRequest):
        client.create_proxy("", "127.0.0.1:1")
    with pytest.raises(ToxiproxyUnreachable):
        ToxiproxyClient("http://127.0.0.1:9", timeout=1).version()
    assert client.version() == "2.12.0"
    assert client.reachable()
    name = f"dup_{id(client)}"
    taken = client.create_proxy(name, "127.0.0.1:1")
    try:
        with pytest.raises(Conflict):
            client.create_proxy(name, "127.0.0.1:1")
        with pytest.raises(ServerError, match="address already in use") as info:  # a 500 is an error
            client.create_proxy(name + "_b", "127.0.0.1:1", listen=taken.listen)
        assert info.value.status == 500
    finally:
        client.delete_proxy(name)
