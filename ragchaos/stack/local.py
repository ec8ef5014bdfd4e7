"""The local stack: provider, Chroma, fault proxy and apps, each a process on loopback.

    provider ◀─┐                    ┌─ naive_app      (key "naive")
               ├─ fault proxy ◀─────┤
    Chroma  ◀──┘  (Toxiproxy API)   └─ reference_app  (key "reference")

Every dependency an app calls goes through a proxy named ``<app>_<dependency>``
(docs/contracts.md), so network faults can be aimed at one app's provider or vector store.
``Stack`` starts the pieces in dependency order, waits for each to be healthy, and stops them
all, last started first, on exit, on error and on Ctrl-C. Tests use the same ``start_*``
functions through the fixtures in tests/conftest.py, and start our apps with ``AppLauncher``
(fresh proxies, ``app_env``, the process, one ``AppHandle``), the path ``Stack`` takes too.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.core.procs import ManagedProcess, ProcessGroup, python_module_argv
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.discovery import FaultProxyHandle, discover
from ragchaos.faults.errors import ToxiproxyError
from ragchaos.kit.settings import AppSettings
from ragchaos.stack.targets import BUILTIN_TARGETS, Target, check_reachable, dependency_env, split_upstream

__all__ = [
    "DEPENDENCIES",
    "AppHandle",
    "AppLauncher",
    "AppProxies",
    "Endpoint",
    "Stack",
    "StackConfig",
    "ToxiproxyHandle",
    "app_env",
    "create_proxy",
    "drain_stop_grace",
    "launch_app",
    "start_app",
    "start_chroma",
    "start_provider",
    "start_toxiproxy",
    "wire_app",
]

DEPENDENCIES = ("provider", "vectordb")

# Chroma's CLI as a module call, so the interpreter (and its venv) is the one running us.
_CHROMA_MAIN = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; sys.exit(app())"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


# the handle discovery returns: ``url``, ``kind`` ("real" | "builtin"), ``process`` (ours or None)
ToxiproxyHandle = FaultProxyHandle


DRAIN_MARGIN_S = 5.0
_DRAIN_VAR = "RAGCHAOS_SHUTDOWN_GRACE_S"


def drain_stop_grace(env: Mapping[str, str]) -> float:
    """How long one of our apps started with ``env`` gets between SIGTERM and SIGKILL.

    Its own drain grace (``RAGCHAOS_SHUTDOWN_GRACE_S`` in ``env``, else in ours, else the
    apps' default; the app rounds it up, ragchaos/kit/server.py) plus ``DRAIN_MARGIN_S``,
    so a stop never SIGKILLs an app that is still finishing admitted requests. A value the
    app would refuse at start falls back to the default: such an app never got to serve.
    """
    field = AppSettings.model_fields["shutdown_grace_s"]
    default = float(field.default)
    raw = env.get(_DRAIN_VAR, os.environ.get(_DRAIN_VAR))
    try:
        grace = float(raw) if raw is not None else default
    except ValueError:
        grace = default
    if not 0 < grace <= 300 or math.isnan(grace):  # AppSettings' own bounds (gt=0, le=300)
        grace = default
    return math.ceil(grace) + DRAIN_MARGIN_S


def _ragchaos_argv(*args: str) -> list[str]:
    return python_module_argv("ragchaos", *args)


def start_provider(
    group: ProcessGroup, log_dir: Path, *, config: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[ManagedProcess, Endpoint]:
    """The simulated OpenAI-compatible provider (``ragchaos provider serve``)."""
    port = free_port()
    argv = _ragchaos_argv("provider", "serve", "--host", LOOPBACK, "--port", str(port))
    if config is not None:
        argv += ["--config", str(config)]
    proc = ManagedProcess(
        "provider", argv, env=dict(env or {}), health_url=f"http://{LOOPBACK}:{port}/healthz",
        log_path=log_dir / "provider.log",
    )
    group.start(proc, timeout=60)
    return proc, Endpoint(LOOPBACK, port)


def start_chroma(group: ProcessGroup, log_dir: Path, data_dir: Path) -> tuple[ManagedProcess, Endpoint]:
    """A real Chroma server over HTTP, persisting into ``data_dir``."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "chroma",
        [sys.executable, "-c", _CHROMA_MAIN, "run", "--host", LOOPBACK, "--port", str(port), "--path", str(data_dir)],
        env={"ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
        health_url=f"http://{LOOPBACK}:{port}/api/v2/heartbeat",
        log_path=log_dir / "chroma.log",
    )
    group.start(proc, timeout=90)
    return proc, Endpoint(LOOPBACK, port)


def start_toxiproxy(group: ProcessGroup, log_dir: Path, *, url: str | None = None) -> ToxiproxyHandle:
    """A real Toxiproxy when one is given, ``TOXIPROXY_URL`` is set or ``toxiproxy-server`` is on
    PATH; else the built-in one (see ``faults.discovery``)."""
    return discover(log_dir, group, url=url)


def create_proxy(toxiproxy_url: str, name: str, upstream: Endpoint) -> Endpoint:
    """Create (or replace) proxy ``name`` on a loopback port the proxy server picks itself."""
    client = ToxiproxyClient(toxiproxy_url)
    with contextlib.suppress(ToxiproxyError):  # not there yet
        client.delete_proxy(name)
    proxy = client.create_proxy(name, upstream.addr, listen=f"{LOOPBACK}:0")
    return Endpoint(proxy.host, proxy.port)


def app_env(app: str, provider: Endpoint, chroma: Endpoint, data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment an app reads (docs/contracts.md, "Apps")."""
    env = {
        "RAGCHAOS_APP_NAME": app,
        "RAGCHAOS_PROVIDER_URL": f"{provider.url}/v1",
        "RAGCHAOS_PROVIDER_KEY": app,
        "RAGCHAOS_CHROMA_HOST": chroma.host,
        "RAGCHAOS_CHROMA_PORT": str(chroma.port),
        "RAGCHAOS_COLLECTION_PREFIX": app,
        "RAGCHAOS_DATA_DIR": str(data_dir),
    }
    env.update(extra or {})
    return env


def start_app(
    group: ProcessGroup, log_dir: Path, app: str, env: Mapping[str, str], *, kind: str | None = None,
    port: int | None = None,
) -> tuple[ManagedProcess, Endpoint]:
    """Start one of our apps (``kind`` naive|reference, default: ``app``)."""
    kind = kind or app
    port = port or free_port()
    health = "/readyz" if kind == "reference" else "/healthz"
    proc = ManagedProcess(
        app,
        _ragchaos_argv(kind, "serve", "--host", LOOPBACK, "--port", str(port)),
        env=dict(env),
        health_url=f"http://{LOOPBACK}:{port}{health}",
        log_path=log_dir / f"{app}.log",
        stop_grace_s=drain_stop_grace(env),  # a stop lets its in-flight requests finish
    )
    group.start(proc, timeout=60)
    return proc, Endpoint(LOOPBACK, port)


@dataclass(frozen=True)
class AppProxies:
    """The proxies in front of one app's dependencies ("provider", "vectordb"), on the fault proxy."""

    names: dict[str, str]  # dependency -> proxy name, what faults are aimed at
    endpoints: dict[str, Endpoint]  # dependency -> the proxy's listen address, what the app calls


@dataclass
class AppHandle:
    """One of our apps started by ``launch_app``: where it is, how it is wired, how to stop it.

    The process is registered in ``group``, so whoever owns the group stops it with the rest;
    ``stop``/``kill``/``start_again`` act on this app alone (crash and restart tests).
    """

    name: str  # the process's name and its log file's; also its data dir's
    kind: str  # naive | reference
    endpoint: Endpoint
    env: dict[str, str]
    wiring: AppProxies
    process: ManagedProcess
    group: ProcessGroup
    log_dir: Path

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def proxies(self) -> dict[str, str]:
        """Dependency -> proxy name (``proxies["vectordb"]`` is what a network fault names)."""
        return self.wiring.names

    @property
    def key(self) -> str:
        """The provider key the app calls with: the provider's ``/_stats`` and faults are per key."""
        return self.env.get("RAGCHAOS_PROVIDER_KEY") or self.env["RAGCHAOS_APP_NAME"]

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return pid

    def client(self, timeout: float = 30.0) -> Any:
        """An ``httpx.Client`` on the app's URL (imported here: the stack itself does not need httpx)."""
        import httpx

        return httpx.Client(base_url=self.url, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) the app; a no-op once stopped, so ``finally: app.stop()`` is safe."""
        if any(p is self.process for p in self.group.processes):
            # by identity: a restarted app's old and new process may compare equal as dataclasses
            self.group.processes[:] = [p for p in self.group.processes if p is not self.process]
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL the app (a crash: no shutdown code runs), then reap whatever it left."""
        self.process.kill()
        self.stop()

    def start_again(self) -> None:
        """Start the app again, stopped or killed, with the same environment (data dir, key,
        collections, proxies) on the same port."""
        self.stop()
        self.process, _ = start_app(self.group, self.log_dir, self.name, self.env, kind=self.kind,
                                    port=self.endpoint.port)

    def restart(self, *, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with ``kill``) and start again on the same port."""
        if kill:
            self.process.kill()
        self.start_again()


def wire_app(toxiproxy_url: str, prefix: str, provider: Endpoint, chroma: Endpoint) -> AppProxies:
    """Fresh proxies ``<prefix>_provider`` and ``<prefix>_vectordb`` in front of the two upstreams."""
    upstreams = {"provider": provider, "vectordb": chroma}
    names = {dep: f"{prefix}_{dep}" for dep in upstreams}
    return AppProxies(names, {dep: create_proxy(toxiproxy_url, names[dep], up) for dep, up in upstreams.items()})


def launch_app(
    group: ProcessGroup, log_dir: Path, name: str, wiring: AppProxies, data_dir: Path, *, kind: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AppHandle:
    """Start our app ``kind`` (default: ``name``) as ``name``, calling its dependencies through
    ``wiring``, with ``app_env`` plus ``env``; wait until healthy."""
    kind = kind or name
    full_env = app_env(name, wiring.endpoints["provider"], wiring.endpoints["vectordb"], data_dir, env)
    proc, endpoint = start_app(group, log_dir, name, full_env, kind=kind)
    return AppHandle(name, kind, endpoint, full_env, wiring, proc, group, log_dir)


@dataclass
class AppLauncher:
    """Starts our apps, each wired through proxies of its own, against servers already running.

    The one way tests start an app: ``AppLauncher(...).launch("reference", env={...})``.
    Every app goes into ``group`` (its owner stops them all); app ``NAME`` logs to
    ``log_dir/NAME.log`` and keeps its data in ``data_dir/NAME``.
    """

    toxiproxy_url: str
    provider: Endpoint
    chroma: Endpoint
    group: ProcessGroup
    log_dir: Path
    data_dir: Path

    def wire(self, prefix: str) -> AppProxies:
        return wire_app(self.toxiproxy_url, prefix, self.provider, self.chroma)

    def launch(
        self, name: str, *, kind: str | None = None, env: Mapping[str, str] | None = None,
        wiring: AppProxies | None = None,
    ) -> AppHandle:
        """Start app ``name`` (our ``kind``, default: ``name``) through fresh proxies ``<name>_*``,
        or through ``wiring`` when given (replicas sharing one network path)."""
        return launch_app(self.group, self.log_dir, name, wiring or self.wire(name), self.data_dir / name,
                          kind=kind, env=env)


@dataclass
class StackConfig:
    run_dir: Path
    apps: Sequence[str] = ("naive", "reference")
    provider_config: Path | None = None
    toxiproxy_url: str | None = None
    # per-app extra environment, e.g. {"reference": {"RAGCHAOS_DISABLE": "cache"}}
    app_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # how each app is reached (ragchaos.stack.targets); an app not here is one of our built-in ones
    targets: Mapping[str, Target] = field(default_factory=dict)
    # per app: the OTLP endpoint its spans go to (ragchaos.stack.otlp), for targets we start
    otlp_endpoints: Mapping[str, str] = field(default_factory=dict)
    # where a relative target ``cwd`` is resolved (the scenario file's folder)
    base_dir: Path | None = None
    # an external Chroma (e.g. the docker backend's container): used instead of starting one
    chroma: Endpoint | None = None


def _endpoint_of(url: str) -> Endpoint:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return Endpoint(parts.hostname or LOOPBACK, parts.port or 80)


class Stack:
    """The whole local stack for one run; a context manager that always tears down."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.group = ProcessGroup()
        self.log_dir = config.run_dir / "logs"
        self.data_dir = config.run_dir / "data"
        self.provider: Endpoint | None = None
        self.chroma: Endpoint | None = None
        self.toxiproxy: ToxiproxyHandle | None = None
        self.proxies: dict[str, Endpoint] = {}
        self.proxy_owners: dict[str, tuple[str, str]] = {}  # proxy name -> (app, dependency)
        self.apps: dict[str, Endpoint] = {}
        self.app_processes: dict[str, ManagedProcess] = {}
        self.app_handles: dict[str, AppHandle] = {}  # our apps (builtin targets) only
        self._app_envs: dict[str, dict[str, str]] = {}
        self._addrs: dict[str, dict[str, str]] = {}  # per started target: dependency -> its proxy's host:port
        # per app, what a target we did not start must be told (printed by the runner)
        self.instructions: dict[str, dict[str, str]] = {}

    def target(self, app: str) -> Target:
        return self.config.targets.get(app) or BUILTIN_TARGETS[app]

    def start(self) -> Stack:
        try:
            # each app's key is its name: the ones beyond the provider's defaults are declared
            keys = ",".join(a for a in self.config.apps if a not in ("naive", "reference", "test"))
            _, self.provider = start_provider(self.group, self.log_dir, config=self.config.provider_config,
                                              env={"RAGCHAOS_PROVIDER_KEYS": keys} if keys else None)
            upstreams = {u for a in self.config.apps for u in self.target(a).dependencies.values()}
            if "chroma" in upstreams:
                if self.config.chroma is not None:
                    self.chroma = self.config.chroma
                else:
                    _, self.chroma = start_chroma(self.group, self.log_dir, self.data_dir / "chroma")
            self.toxiproxy = start_toxiproxy(self.group, self.log_dir, url=self.config.toxiproxy_url)
            for app in self.config.apps:
                self._start_target(app, self.target(app))
        except BaseException:
            self.stop()
            raise
        return self

    def _upstream(self, spec: str) -> Endpoint:
        up = split_upstream(spec)
        if up == "provider":
            assert self.provider is not None
            return self.provider
        if up == "chroma":
            assert self.chroma is not None
            return self.chroma
        assert isinstance(up, tuple)
        return Endpoint(*up)

    def _start_target(self, app: str, target: Target) -> None:
        """Proxies for each of the target's dependencies, then the target wired through them."""
        assert self.toxiproxy is not None
        proxies: dict[str, Endpoint] = {}
        for dep, spec in target.dependencies.items():
            proxies[dep] = self.proxies[f"{app}_{dep}"] = create_proxy(
                self.toxiproxy.url, f"{app}_{dep}", self._upstream(spec))
            self.proxy_owners[f"{app}_{dep}"] = (app, dep)
        otlp = self.config.otlp_endpoints.get(app)
        if target.builtin is not None:
            assert "provider" in proxies and "vectordb" in proxies, "our apps need provider and vectordb"
            wiring = AppProxies({dep: f"{app}_{dep}" for dep in proxies}, proxies)
            extra = {**target.environment(None, {d: e.addr for d, e in proxies.items()}),
                     **self.config.app_env.get(app, {}), **(dependency_env(app, {}, otlp) if otlp else {})}
            handle = self.app_handles[app] = launch_app(
                self.group, self.log_dir, app, wiring, self.data_dir / app, kind=target.builtin, env=extra)
            self._app_envs[app] = handle.env
            self.apps[app], self.app_processes[app] = handle.endpoint, handle.process
            return
        addrs = {d: e.addr for d, e in proxies.items()}
        port = None if target.url is not None else free_port()
        env = {**dependency_env(app, addrs, otlp), **target.environment(port, addrs),
               **self.config.app_env.get(app, {})}
        if target.url is not None:
            check_reachable(app, target.url, target.health)
            self.instructions[app] = env
            self.apps[app] = _endpoint_of(target.url)
            return
        assert port is not None
        self._addrs[app] = addrs
        proc = ManagedProcess(app, target.argv(port, addrs), env=env,
                              health_url=f"http://{LOOPBACK}:{port}{target.health}",
                              log_path=self.log_dir / f"{app}.log", cwd=target.working_dir(self.config.base_dir))
        self._app_envs[app] = env
        self.group.start(proc, timeout=target.start_timeout)
        self.app_processes[app] = proc
        self.apps[app] = Endpoint(LOOPBACK, port)

    def restart_app(self, app: str, *, kill: bool = False) -> Endpoint:
        """Stop (SIGTERM, or SIGKILL with ``kill``) and start an app again on the same port."""
        handle = self.app_handles.get(app)
        if handle is not None:  # one of ours
            handle.restart(kill=kill)
            self.app_processes[app] = handle.process
            return handle.endpoint
        proc = self.app_processes[app]
        if kill:
            proc.kill()
        proc.stop()
        self.group.processes.remove(proc)
        # a user's command, on the same port
        target = self.target(app)
        port = self.apps[app].port
        new_proc = ManagedProcess(app, target.argv(port, self._addrs.get(app)), env=self._app_envs[app],
                                  health_url=f"http://{LOOPBACK}:{port}{target.health}",
                                  log_path=self.log_dir / f"{app}.log",
                                  cwd=target.working_dir(self.config.base_dir))
        self.group.start(new_proc, timeout=target.start_timeout)
        self.app_processes[app] = new_proc
        return self.apps[app]

    def stop(self) -> None:
        self.group.stop_all()
        if self.toxiproxy is not None and self.toxiproxy.process is None:
            # a Toxiproxy we did not start: remove only the proxies we made
            client = ToxiproxyClient(self.toxiproxy.url)
            for name in self.proxies:
                with contextlib.suppress(ToxiproxyError, OSError):
                    client.delete_proxy(name)

    def describe(self) -> dict[str, Any]:
        """Addresses and process ids, for results.json and for printing."""
        return {
            "provider": self.provider.url if self.provider else None,
            "chroma": self.chroma.url if self.chroma else None,
            "toxiproxy": {"url": self.toxiproxy.url, "kind": self.toxiproxy.kind} if self.toxiproxy else None,
            "proxies": {name: ep.addr for name, ep in self.proxies.items()},
            "apps": {name: ep.url for name, ep in self.apps.items()},
            "pids": {p.name: p.pid for p in self.group.processes},
        }

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
