"""``--backend docker``: the real Toxiproxy, Chroma and Redis as containers, for one run.

Where a Docker engine is reachable, ``DockerServices`` starts the three dependencies through the
``docker`` SDK, waits until each is healthy (the container's own health check, then a probe
from this host), and removes them when the block ends, also after an error or Ctrl-C. Every
container carries the labels ``ragchaos.owner=ragchaos`` and ``ragchaos.run=<run id>``, and
only containers with this run's label are ever removed.

The apps and the provider stay local processes (``ragchaos.stack``) on loopback, so:

- Toxiproxy runs with the host's network (``network_mode="host"``, Linux engines): its proxies
  listen on ``127.0.0.1:<free port>`` of this machine and reach the local provider on
  loopback, exactly as the built-in proxy does. Published ports could not do that: a proxy
  inside a bridge network cannot reach a server bound to the host's 127.0.0.1.
- Chroma and Redis publish one port each, bound to ``127.0.0.1`` only.

Without an engine, ``DockerServices`` raises ``DockerUnavailable`` with a one-line message that
points to the default backend; the CLI prints it as is. The container specs are pure functions
(``toxiproxy_spec``, ``chroma_spec``, ``redis_spec``) so they are tested without an engine.

    with stack_backend(args.backend, StackConfig(run_dir=run_dir)) as config:   # "local" | "docker"
        with Stack(config) as stack: ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.stack.local import Endpoint, StackConfig

__all__ = [
    "BACKENDS",
    "DEFAULT_IMAGES",
    "LABEL_HOST",
    "LABEL_OWNER",
    "LABEL_PID",
    "LABEL_ROLE",
    "LABEL_RUN",
    "ContainerSpec",
    "DockerServices",
    "DockerStartError",
    "DockerUnavailable",
    "chroma_spec",
    "connect",
    "redis_spec",
    "stack_backend",
    "toxiproxy_spec",
]

# Same versions as compose.yaml (tests/scaleout checks they agree).
DEFAULT_IMAGES: Mapping[str, str] = {
    "toxiproxy": "ghcr.io/shopify/toxiproxy:2.12.0",
    "chroma": "chromadb/chroma:1.5.9",
    "redis": "redis:7",
}
BACKENDS = ("local", "docker")
LABEL_OWNER = "ragchaos.owner"
LABEL_RUN = "ragchaos.run"
LABEL_ROLE = "ragchaos.role"
# who started it, so a later run can remove what a killed run (SIGKILL) left behind
LABEL_HOST = "ragchaos.host"
LABEL_PID = "ragchaos.pid"
_SECOND_NS = 1_000_000_000


class DockerUnavailable(RuntimeError):
    """No Docker engine answers; the message is one line for the CLI to print."""


class DockerStartError(RuntimeError):
    """A container did not become healthy (its last log lines are in the message)."""


@dataclass(frozen=True)
class ContainerSpec:
    """Everything ``client.containers.run`` needs for one dependency, and how to probe it."""

    role: str  # toxiproxy | chroma | redis
    image: str
    command: list[str]
    labels: dict[str, str]
    healthcheck: dict[str, Any]  # Docker's HealthConfig: test + durations in nanoseconds
    host_port: int  # where this host reaches it (127.0.0.1:host_port)
    ports: dict[str, tuple[str, int]] = field(default_factory=dict)  # "8000/tcp" -> ("127.0.0.1", port)
    environment: dict[str, str] = field(default_factory=dict)
    network_mode: str | None = None

    @property
    def name(self) -> str:
        return f"ragchaos-{self.labels[LABEL_RUN]}-{self.role}"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(LOOPBACK, self.host_port)

    def run_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "image": self.image,
            "command": list(self.command),
            "name": self.name,
            "labels": dict(self.labels),
            "healthcheck": dict(self.healthcheck),
            "environment": dict(self.environment),
            "detach": True,
        }
        if self.network_mode is not None:
            kwargs["network_mode"] = self.network_mode
        else:
            kwargs["ports"] = dict(self.ports)
        return kwargs


def labels(run_id: str, role: str) -> dict[str, str]:
    return {LABEL_OWNER: "ragchaos", LABEL_RUN: run_id, LABEL_ROLE: role}


def _health(test: Sequence[str], *, interval_s: float = 1.0, retries: int = 60, start_s: float = 1.0) -> dict[str, Any]:
    return {
        "test": ["CMD", *test],
        "interval": int(interval_s * _SECOND_NS),
        "timeout": int(3 * _SECOND_NS),
        "retries": retries,
        "start_period": int(start_s * _SECOND_NS),
    }


def toxiproxy_spec(run_id: str, api_port: int, image: str = DEFAULT_IMAGES["toxiproxy"]) -> ContainerSpec:
    """The real Toxiproxy on the host's network, its API on 127.0.0.1:api_port."""
    return ContainerSpec(
        role="toxiproxy",
        image=image,
        command=[f"-host={LOOPBACK}", f"-port={api_port}"],
        labels=labels(run_id, "toxiproxy"),
        healthcheck=_health(["/toxiproxy-cli", "--host", f"http://{LOOPBACK}:{api_port}", "list"]),
        host_port=api_port,
        network_mode="host",
    )


def chroma_spec(run_id: str, host_port: int, image: str = DEFAULT_IMAGES["chroma"]) -> ContainerSpec:
    """A Chroma server (the image's 1.x CLI), published on 127.0.0.1:host_port only."""
    return ContainerSpec(
        role="chroma",
        image=image,
        # the container is a host of its own: 0.0.0.0 there is reachable only through the
        # loopback-bound published port
        command=["run", "--host", "0.0.0.0", "--port", "8000", "--path", "/data"],
        labels=labels(run_id, "chroma"),
        healthcheck=_health(["curl", "-fsS", "http://127.0.0.1:8000/api/v2/heartbeat"], start_s=5.0),
        host_port=host_port,
        ports={"8000/tcp": (LOOPBACK, host_port)},
        environment={"ANONYMIZED_TELEMETRY": "False"},
    )


def redis_spec(run_id: str, host_port: int, image: str = DEFAULT_IMAGES["redis"]) -> ContainerSpec:
    """Redis without persistence, published on 127.0.0.1:host_port only."""
    return ContainerSpec(
        role="redis",
        image=image,
        command=["redis-server", "--save", "", "--appendonly", "no"],
        labels=labels(run_id, "redis"),
        healthcheck=_health(["redis-cli", "ping"]),
        host_port=host_port,
        ports={"6379/tcp": (LOOPBACK, host_port)},
    )


def default_specs(run_id: str, images: Mapping[str, str] = DEFAULT_IMAGES) -> list[ContainerSpec]:
    return [
        redis_spec(run_id, free_port(), images["redis"]),
        chroma_spec(run_id, free_port(), images["chroma"]),
        toxiproxy_spec(run_id, free_port(), images["toxiproxy"]),
    ]


def connect(factory: Callable[[], Any] | None = None) -> Any:
    """A Docker client that answered a ping, or ``DockerUnavailable`` (one line)."""
    try:
        if factory is None:
            import docker

            factory = lambda: docker.from_env(timeout=10)  # noqa: E731 - the SDK's own env lookup
        client = factory()
        client.ping()
    except ImportError:
        raise DockerUnavailable(
            "--backend docker needs the 'docker' package (pip install docker); "
            "run without --backend docker to use the default local backend"
        ) from None
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DockerUnavailable(
            f"no Docker engine reachable ({reason}); run without --backend docker to use the default "
            "local backend (built-in proxy, local Chroma and Redis processes)"
        ) from None
    return client


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


# -- host-side probes: the container's health says it serves; these say we can reach it --

def _probe_http(path: str) -> Callable[[Endpoint], bool]:
    def probe(ep: Endpoint) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{ep.url}{path}", timeout=2) as resp:
                return 200 <= resp.status < 300
        except OSError:
            return False

    return probe


def _probe_redis(ep: Endpoint) -> bool:
    from ragchaos.stack.redis_server import ping

    return ping(ep.host, ep.port) is None


DEFAULT_PROBES: Mapping[str, Callable[[Endpoint], bool]] = {
    "toxiproxy": _probe_http("/version"),
    "chroma": _probe_http("/api/v2/heartbeat"),
    "redis": _probe_redis,
}


class DockerServices:
    """Toxiproxy, Chroma and Redis containers for one run; removed on exit, always."""

    def __init__(
        self,
        *,
        run_id: str | None = None,
        log_dir: Path | None = None,
        client_factory: Callable[[], Any] | None = None,
        specs: Sequence[ContainerSpec] | None = None,
        probes: Mapping[str, Callable[[Endpoint], bool]] = DEFAULT_PROBES,
        timeout: float = 180.0,
        pull: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.log_dir = log_dir
        self._client_factory = client_factory
        self.specs = list(specs) if specs is not None else default_specs(self.run_id)
        self._probes = probes
        self.timeout = timeout
        self.pull = pull
        self._clock = clock
        self._sleep = sleep
        self.client: Any = None
        self.containers: dict[str, Any] = {}

    # -- addresses, once started --
    def _spec(self, role: str) -> ContainerSpec:
        return next(s for s in self.specs if s.role == role)

    @property
    def toxiproxy_url(self) -> str:
        return self._spec("toxiproxy").endpoint.url

    @property
    def chroma(self) -> Endpoint:
        return self._spec("chroma").endpoint

    @property
    def redis_url(self) -> str:
        ep = self._spec("redis").endpoint
        return f"redis://{ep.host}:{ep.port}/0"

    def stack_config(self, base: StackConfig) -> StackConfig:
        """``base`` wired to these containers: the real Toxiproxy, Redis for the reference app.

        A ``StackConfig`` that accepts an external Chroma (a ``chroma`` field) gets ours too;
        until ``ragchaos.stack`` has one, the Stack still starts its own Chroma process.
        """
        app_env = {app: dict(env) for app, env in base.app_env.items()}
        app_env.setdefault("reference", {})["REDIS_URL"] = self.redis_url
        changes: dict[str, Any] = {"toxiproxy_url": self.toxiproxy_url, "app_env": app_env}
        if "chroma" in {f.name for f in dataclasses.fields(StackConfig)}:
            changes["chroma"] = self.chroma
        return dataclasses.replace(base, **changes)

    # -- lifecycle --
    def start(self) -> DockerServices:
        self.client = connect(self._client_factory)
        self.remove_orphans()
        owner = {LABEL_HOST: socket.gethostname(), LABEL_PID: str(os.getpid())}
        try:
            for spec in self.specs:
                self._ensure_image(spec.image)
                kwargs = spec.run_kwargs()
                kwargs["labels"].update(owner)
                self.containers[spec.role] = self.client.containers.run(**kwargs)
            for spec in self.specs:
                self._wait_healthy(spec)
        except BaseException:
            self.stop()
            raise
        return self

    def remove_orphans(self) -> list[str]:
        """Remove our containers whose starter, a process on this host, is gone (a run killed
        with SIGKILL never reached its cleanup). Others' runs, alive or on other hosts, stay."""
        removed = []
        host = socket.gethostname()
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL_OWNER}=ragchaos"}):
            labels = container.labels
            pid = labels.get(LABEL_PID, "")
            if labels.get(LABEL_HOST) != host or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
                removed.append(container.name)
        return removed

    def _ensure_image(self, image: str) -> None:
        import docker.errors

        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            if not self.pull:
                raise DockerStartError(f"image {image} is not present and pulling is off") from None
            repo, _, tag = image.rpartition(":")
            self.client.images.pull(repo, tag=tag)

    def _wait_healthy(self, spec: ContainerSpec) -> None:
        container = self.containers[spec.role]
        probe = self._probes.get(spec.role)
        deadline = self._clock() + self.timeout
        status = "unknown"
        while self._clock() < deadline:
            container.reload()
            state = container.attrs.get("State", {})
            status = (state.get("Health") or {}).get("Status", "none")
            if state.get("Status") in {"exited", "dead"} or status == "unhealthy":
                raise DockerStartError(f"{spec.role} container is {status if status == 'unhealthy' else state.get('Status')}"
                                       f"{self._log_tail(spec.role)}")
            if status == "healthy" and (probe is None or probe(spec.endpoint)):
                return
            self._sleep(0.5)
        raise DockerStartError(f"{spec.role} not healthy after {self.timeout:.0f}s (health: {status})"
                               f"{self._log_tail(spec.role)}")

    def _log_tail(self, role: str, lines: int = 20) -> str:
        try:
            text = self.containers[role].logs(tail=lines).decode(errors="replace").strip()
        except Exception:
            return ""
        return f"\n--- last log lines of {role} ---\n{text}" if text else ""

    def stop(self) -> None:
        """Save each container's log, then remove every container labelled with this run."""
        if self.client is None:
            return
        for role, container in self.containers.items():
            if self.log_dir is not None:
                # a lost log must not keep a container alive
                with contextlib.suppress(Exception):
                    self.log_dir.mkdir(parents=True, exist_ok=True)
                    (self.log_dir / f"{role}.docker.log").write_bytes(container.logs())
        # by label, not by the handles we hold: a container created just before an error
        # (or a Ctrl-C) is removed too
        try:
            ours = self.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={self.run_id}"})
        except Exception:
            ours = list(self.containers.values())  # the engine went away: try what we hold
        for container in ours:
            if container.labels.get(LABEL_OWNER) == "ragchaos":
                with contextlib.suppress(Exception):  # keep removing the others
                    container.remove(force=True, v=True)
        self.containers.clear()

    def __enter__(self) -> DockerServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def stack_backend(name: str, config: StackConfig, **services_kw: Any) -> Iterator[StackConfig]:
    """The hook for ``ragchaos run --backend NAME``: the ``StackConfig`` to run with.

    ``local`` (the default) yields ``config`` unchanged. ``docker`` starts the containers,
    yields ``config`` wired to them and removes them when the block ends, whatever happened.
    Raises ``DockerUnavailable`` (one line for the CLI) when no engine answers.
    """
    if name == "local":
        yield config
        return
    if name != "docker":
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    services_kw.setdefault("log_dir", config.run_dir / "logs")
    with DockerServices(**services_kw) as services:
        yield services.stack_config(config)
