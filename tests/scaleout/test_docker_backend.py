"""``--backend docker``: container specs (pure), the no-engine path for real, and the whole
lifecycle through the real ``docker`` SDK against a fake engine on a unix socket."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest
import yaml

from ragchaos.stack.docker_backend import (
    DEFAULT_IMAGES,
    LABEL_OWNER,
    LABEL_ROLE,
    LABEL_RUN,
    DockerServices,
    DockerStartError,
    DockerUnavailable,
    chroma_spec,
    connect,
    default_specs,
    redis_spec,
    toxiproxy_spec,
)
from ragchaos.stack.local import StackConfig
from tests.scaleout.fake_docker import FakeDockerServer

ROOT = Path(__file__).resolve().parents[2]


# -- specs -------------------------------------------------------------------------------

def test_published_ports_are_bound_to_loopback_only() -> None:
    for spec in (chroma_spec("r1", 41001), redis_spec("r1", 41002)):
        kwargs = spec.run_kwargs()
        assert kwargs["ports"], spec.role
        for host_ip, host_port in kwargs["ports"].values():
            assert host_ip == "127.0.0.1"
            assert host_port == spec.host_port
        assert "network_mode" not in kwargs
    assert chroma_spec("r1", 41001).run_kwargs()["ports"] == {"8000/tcp": ("127.0.0.1", 41001)}
    assert redis_spec("r1", 41002).run_kwargs()["ports"] == {"6379/tcp": ("127.0.0.1", 41002)}


def test_toxiproxy_shares_the_host_network_and_listens_on_loopback() -> None:
    spec = toxiproxy_spec("r1", 41003)
    kwargs = spec.run_kwargs()
    assert kwargs["network_mode"] == "host"
    assert "ports" not in kwargs  # host networking publishes nothing
    assert kwargs["command"] == ["-host=127.0.0.1", "-port=41003"]
    assert spec.endpoint.url == "http://127.0.0.1:41003"
    assert kwargs["healthcheck"]["test"] == ["CMD", "/toxiproxy-cli", "--host", "http://127.0.0.1:41003", "list"]


def test_every_spec_is_labelled_named_and_health_checked() -> None:
    specs = default_specs("run42")
    assert [s.role for s in specs] == ["redis", "chroma", "toxiproxy"]
    assert len({s.host_port for s in specs}) == 3
    for spec in specs:
        kw = spec.run_kwargs()
        assert kw["labels"] == {LABEL_OWNER: "ragchaos", LABEL_RUN: "run42", LABEL_ROLE: spec.role}
        assert kw["name"] == f"ragchaos-run42-{spec.role}"
        assert kw["detach"] is True
        hc = kw["healthcheck"]
        assert hc["test"][0] == "CMD"
        # Docker wants durations in nanoseconds: a 1 s interval, not 1 ns
        assert hc["interval"] == 1_000_000_000 and hc["timeout"] == 3_000_000_000
        assert hc["retries"] >= 10


def test_images_are_the_versions_compose_uses() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert DEFAULT_IMAGES["toxiproxy"] == compose["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert DEFAULT_IMAGES["chroma"] == compose["chroma"]["image"]
    assert DEFAULT_IMAGES["redis"] == compose["redis"]["image"]
    import chromadb

    assert DEFAULT_IMAGES["chroma"] == f"chromadb/chroma:{chromadb.__version__}"


def test_stack_config_points_the_stack_at_the_containers(tmp_path) -> None:
    services = DockerServices(run_id="r1", specs=[toxiproxy_spec("r1", 41003), chroma_spec("r1", 41001),
                                                   redis_spec("r1", 41002)])
    base = StackConfig(run_dir=tmp_path, app_env={"reference": {"RAGCHAOS_DISABLE": "cache"}})
    config = services.stack_config(base)
    assert config.toxiproxy_url == "http://127.0.0.1:41003"
    assert config.app_env["reference"] == {"RAGCHAOS_DISABLE": "cache", "REDIS_URL": "redis://127.0.0.1:41002/0"}
    assert "naive" not in config.app_env  # the naive app stays naive: no shared state
    assert base.app_env == {"reference": {"RAGCHAOS_DISABLE": "cache"}}  # the base is not changed


# -- no engine, for real -----------------------------------------------------------------

def test_no_engine_is_one_clear_line_pointing_to_the_default_backend(tmp_path) -> None:
    missing = tmp_path / "docker.sock"
    with pytest.raises(DockerUnavailable) as info:
        connect(lambda: docker.from_env(environment={"DOCKER_HOST": f"unix://{missing}"}, timeout=5))
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("no Docker engine reachable (")
    assert "run without --backend docker" in msg and "default" in msg


def test_no_engine_on_this_machine_with_the_sdk_defaults() -> None:
    """The machine's own situation: a docker client, no engine (DOCKER_HOST unset, no socket)."""
    if os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists():
        pytest.skip("a Docker engine may be reachable here; the no-engine path is covered by the test above")
    with pytest.raises(DockerUnavailable, match=r"^no Docker engine reachable .*default local backend"):
        DockerServices(run_id="none").start()


# -- the lifecycle against a fake engine -------------------------------------------------

@pytest.fixture
def fake_engine(tmp_path):
    # unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rcd-") as d:
        server = FakeDockerServer(Path(d) / "docker.sock")
        with server as engine:
            engine.images.update({DEFAULT_IMAGES["redis"], DEFAULT_IMAGES["chroma"]})  # toxiproxy must be pulled
            yield server, engine


def _services(server: FakeDockerServer, tmp_path: Path, **kw) -> DockerServices:
    url = server.url
    return DockerServices(
        run_id="t1",
        log_dir=tmp_path / "logs",
        client_factory=lambda: docker.from_env(environment={"DOCKER_HOST": url}, timeout=5),
        specs=[redis_spec("t1", 42001), chroma_spec("t1", 42002), toxiproxy_spec("t1", 42003)],
        probes=kw.pop("probes", {}),
        sleep=lambda s: None,
        **kw,
    )


def test_starts_healthy_containers_as_specified_and_removes_them(fake_engine, tmp_path) -> None:
    server, engine = fake_engine
    engine.health = {"redis": ["starting", "healthy"], "chroma": ["starting", "starting", "healthy"]}
    foreign = engine.add_foreign("someone-elses", {"app": "db"})
    other_run = engine.add_foreign("ragchaos-other-redis", {LABEL_OWNER: "ragchaos", LABEL_RUN: "other"})
    probed: list[str] = []

    with _services(server, tmp_path, probes={"chroma": lambda ep: probed.append(ep.url) or True}) as services:
        created = {c.labels[LABEL_ROLE]: c for c in engine.containers.values() if c.labels.get(LABEL_RUN) == "t1"}
        assert set(created) == {"redis", "chroma", "toxiproxy"}
        assert all(c.started for c in created.values())
        # what went over the wire: loopback-only bindings, host network for Toxiproxy
        assert created["chroma"].body["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "42002"}]}
        assert created["redis"].body["HostConfig"]["PortBindings"] == {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "42001"}]}
        assert created["toxiproxy"].body["HostConfig"]["NetworkMode"] == "host"
        assert created["toxiproxy"].body["Cmd"] == ["-host=127.0.0.1", "-port=42003"]
        assert created["chroma"].body["Healthcheck"]["Test"][:2] == ["CMD", "curl"]
        assert services.toxiproxy_url == "http://127.0.0.1:42003"
        assert services.redis_url == "redis://127.0.0.1:42001/0"
        assert probed == ["http://127.0.0.1:42002"]

    assert engine.pulled == [DEFAULT_IMAGES["toxiproxy"]]  # pulled only what was missing
    assert sorted(engine.removed) == ["ragchaos-t1-chroma", "ragchaos-t1-redis", "ragchaos-t1-toxiproxy"]
    assert foreign.id in engine.containers and other_run.id in engine.containers  # not ours: left alone
    assert (tmp_path / "logs" / "chroma.docker.log").read_bytes() == b"ragchaos-t1-chroma: fake log line\n"


def test_an_unhealthy_container_removes_everything_it_started(fake_engine, tmp_path) -> None:
    server, engine = fake_engine
    engine.health = {"chroma": ["starting", "unhealthy"]}
    services = _services(server, tmp_path)
    with pytest.raises(DockerStartError) as info:
        services.start()
    assert "chroma container is unhealthy" in str(info.value)
    assert "fake log line" in str(info.value)  # the log tail says why
    assert not [c for c in engine.containers.values() if c.labels.get(LABEL_RUN) == "t1"]
    assert len(engine.removed) == 3


def test_never_healthy_times_out_by_the_injected_clock_and_cleans_up(fake_engine, tmp_path) -> None:
    server, engine = fake_engine
    engine.health = {"redis": ["starting"]}
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    services = _services(server, tmp_path, timeout=5.0)
    services._clock, services._sleep = (lambda: now[0]), sleep
    with pytest.raises(DockerStartError, match=r"redis not healthy after 5s \(health: starting\)"):
        services.start()
    assert not engine.containers


def test_an_error_inside_the_block_still_removes_the_containers(fake_engine, tmp_path) -> None:
    server, engine = fake_engine
    with pytest.raises(RuntimeError, match="boom"), _services(server, tmp_path):
        assert len(engine.containers) == 3
        raise RuntimeError("boom")
    assert not engine.containers


def test_a_failing_host_probe_is_not_healthy(fake_engine, tmp_path) -> None:
    """Healthy inside the container but unreachable from here (e.g. a port not published)."""
    server, engine = fake_engine
    now = [0.0]
    services = _services(server, tmp_path, timeout=3.0, probes={"redis": lambda ep: False})
    services._clock, services._sleep = (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(DockerStartError, match="redis not healthy after 3s"):
        services.start()
    assert not engine.containers


# -- the hook for `ragchaos run --backend` -------------------------------------------------

def test_local_backend_is_the_config_unchanged(tmp_path) -> None:
    from ragchaos.stack.docker_backend import stack_backend

    config = StackConfig(run_dir=tmp_path)
    with stack_backend("local", config) as got:
        assert got is config


def test_unknown_backend_is_refused(tmp_path) -> None:
    from ragchaos.stack.docker_backend import stack_backend

    with pytest.raises(ValueError, match="unknown backend 'podman'; known: local, docker"), \
            stack_backend("podman", StackConfig(run_dir=tmp_path)):
        pass


def test_docker_backend_without_engine_raises_the_one_line(tmp_path) -> None:
    from ragchaos.stack.docker_backend import stack_backend

    missing = f"unix://{tmp_path / 'none.sock'}"
    with pytest.raises(DockerUnavailable, match="run without --backend docker"), stack_backend(
        "docker", StackConfig(run_dir=tmp_path),
        client_factory=lambda: docker.from_env(environment={"DOCKER_HOST": missing}, timeout=5),
    ):
        pass


def test_docker_backend_wires_the_config_and_cleans_up(fake_engine, tmp_path) -> None:
    from ragchaos.stack.docker_backend import stack_backend

    server, engine = fake_engine
    url = server.url
    with stack_backend(
        "docker", StackConfig(run_dir=tmp_path), run_id="hk", probes={}, sleep=lambda s: None,
        client_factory=lambda: docker.from_env(environment={"DOCKER_HOST": url}, timeout=5),
    ) as config:
        running = {c.labels[LABEL_ROLE]: c for c in engine.containers.values()}
        assert set(running) == {"redis", "chroma", "toxiproxy"}
        api_port = running["toxiproxy"].body["Cmd"][1].split("=")[1]
        assert config.toxiproxy_url == f"http://127.0.0.1:{api_port}"
        redis_port = running["redis"].body["HostConfig"]["PortBindings"]["6379/tcp"][0]["HostPort"]
        assert config.app_env["reference"]["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/0"
    assert not engine.containers
    assert (tmp_path / "logs" / "redis.docker.log").exists()  # logs land in the run folder


def test_a_killed_runs_containers_are_removed_by_the_next_run_and_only_those(fake_engine, tmp_path) -> None:
    import socket
    import subprocess

    from ragchaos.stack.docker_backend import LABEL_HOST, LABEL_PID

    server, engine = fake_engine
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    ours = {LABEL_OWNER: "ragchaos", LABEL_RUN: "old", LABEL_ROLE: "redis"}
    orphan = engine.add_foreign("ragchaos-old-redis", {**ours, LABEL_HOST: host, LABEL_PID: str(dead.pid)})
    alive = engine.add_foreign("ragchaos-live-redis", {**ours, LABEL_RUN: "live", LABEL_HOST: host,
                                                       LABEL_PID: str(os.getpid())})
    elsewhere = engine.add_foreign("ragchaos-far-redis", {**ours, LABEL_RUN: "far", LABEL_HOST: "another-host",
                                                          LABEL_PID: str(dead.pid)})
    foreign = engine.add_foreign("postgres", {"app": "db"})

    with _services(server, tmp_path):
        assert orphan.id not in engine.containers  # its starter is dead: removed first
        assert {alive.id, elsewhere.id, foreign.id} <= set(engine.containers)
        started = [c for c in engine.containers.values() if c.labels.get(LABEL_RUN) == "t1"]
        assert {c.labels[LABEL_HOST] for c in started} == {host}
        assert {c.labels[LABEL_PID] for c in started} == {str(os.getpid())}
    assert set(engine.containers) == {alive.id, elsewhere.id, foreign.id}
