"""compose.yaml, checked without a Docker engine: valid, wired, and in step with the code.

- ``docker-compose config -q`` (Debian's docker-compose) validates it as Compose does; without
  the binary that test says so and skips, and ``test_compose_structure`` (always run) is the
  schema check of our own.
- Every command our image runs is a real ``ragchaos`` subcommand (parsed by the real parser),
  and every port, path and variable matches the code's defaults and docs/contracts.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ragchaos.cli import build_parser
from ragchaos.kit.settings import AppSettings
from ragchaos.stack.local import DEPENDENCIES
from ragchaos.stack.redis_server import SHARED_REDIS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
POPULATE = ROOT / "deploy" / "toxiproxy.json"
PROJECT_IMAGE = "ragchaos:local"
# the app services and the app each one runs (its provider key, collections and proxies)
APP_SERVICES = {"naive-app": "naive", "reference-app": "reference"}
HEALTH_PATHS = {"provider": "/healthz", "naive-app": "/healthz", "reference-app": "/readyz"}

_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def _interpolate(value: Any) -> Any:
    """Compose's ``${VAR:-default}``, with this environment (as ``docker compose`` does)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _interpolate(yaml.safe_load(COMPOSE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def proxies() -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in json.loads(POPULATE.read_text())}


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _default(parser: argparse.ArgumentParser, dest: str) -> Any:
    return next(a.default for a in parser._actions if a.dest == dest)


def _health_url(service: dict[str, Any]) -> str:
    return next(part for part in service["healthcheck"]["test"] if str(part).startswith("http://"))


def _container_port(service: dict[str, Any]) -> int:
    (mapping,) = service["ports"]
    return int(mapping.rsplit(":", 1)[1])


def _project_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("image") == PROJECT_IMAGE}


# -- valid Compose -----------------------------------------------------------------------

def test_docker_compose_config_validates() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not on PATH (apt-get install docker-compose): compose.yaml is checked by "
                    "test_compose_structure's schema check only")
    proc = subprocess.run([binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    # and the resolved model is what the other tests read
    out = subprocess.run([binary, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    resolved = yaml.safe_load(out.stdout)["services"]
    assert resolved["reference-app"]["deploy"]["replicas"] >= 2
    assert resolved["runner"]["profiles"] == ["run"]


_PORT = re.compile(r"^127\.0\.0\.1:(\d+):(\d+)$")
_DURATION = re.compile(r"^\d+(ms|s|m)$")
_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_SERVICE_KEYS = {
    "image", "build", "command", "environment", "ports", "volumes", "healthcheck", "depends_on", "deploy",
    "tmpfs", "profiles", "user", "init", "restart",
}


def test_compose_structure(compose: dict[str, Any], services: dict[str, Any]) -> None:
    """A schema check of our own: the keys we use, with the shapes Compose accepts."""
    assert set(compose) <= {"services", "volumes"} | {k for k in compose if k.startswith("x-")}
    declared_volumes = set(compose.get("volumes") or {})
    for name, svc in services.items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name), name
        assert set(svc) <= _SERVICE_KEYS, (name, set(svc) - _SERVICE_KEYS)
        assert isinstance(svc.get("image"), str), name
        if "command" in svc:
            assert isinstance(svc["command"], list) and all(isinstance(a, str) for a in svc["command"]), name
        for mapping in svc.get("ports", []):
            assert _PORT.match(mapping), f"{name}: {mapping} is not published on 127.0.0.1 only"
        env = svc.get("environment", {})
        assert isinstance(env, dict) and all(isinstance(v, str) for v in env.values()), name
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists() or source == "./runs", f"{name}: {source} missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"
        if "healthcheck" in svc:
            hc = svc["healthcheck"]
            assert hc["test"][0] == "CMD" and len(hc["test"]) > 1, name
            for key in ("interval", "timeout", "start_period"):
                if key in hc:
                    assert _DURATION.match(hc[key]), (name, key, hc[key])
            assert isinstance(hc["retries"], int) and hc["retries"] > 0
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert cond["condition"] in _CONDITIONS
        if "deploy" in svc:
            assert isinstance(svc["deploy"]["replicas"], int)
    published = [m for s in services.values() for m in s.get("ports", [])]
    host_ports = [m.split(":")[1] for m in published]
    assert len(host_ports) == len(set(host_ports)), f"a host port is published twice: {host_ports}"


def test_start_up_order_waits_for_health(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            if dep == "seed":  # a one-shot job: waited for until it has succeeded
                assert cond["condition"] == "service_completed_successfully", name
                continue
            assert cond["condition"] == "service_healthy", f"{name} -> {dep}"
            assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no health check"
    deps = {n: set(s.get("depends_on") or {}) for n, s in services.items()}
    for app in APP_SERVICES:
        assert {"toxiproxy", "provider", "chroma"} <= deps[app], app
    assert "redis" in deps["reference-app"] and "redis" not in deps["naive-app"]
    assert deps["reference-lb"] == {"reference-app"}
    assert deps["seed"] == {"naive-app", "reference-lb"}
    assert deps["locust-master"] == {"seed"}
    assert deps["locust-worker"] == {"locust-master"}
    # every long-running server has a health check; only one-shot jobs and load workers don't
    assert {n for n, s in services.items() if "healthcheck" not in s} == {"seed", "locust-worker", "runner"}


def test_images_and_replicas(services: dict[str, Any]) -> None:
    import chromadb

    assert services["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert services["chroma"]["image"] == f"chromadb/chroma:{chromadb.__version__}"
    assert services["redis"]["image"].startswith("redis:7")
    assert services["reference-app"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["reference-app"]  # replicas cannot share a host port
    assert services["toxiproxy"]["command"][-1] == "-config=/config/toxiproxy.json"
    assert "./deploy/toxiproxy.json:/config/toxiproxy.json:ro" in services["toxiproxy"]["volumes"]


# -- every command is real ----------------------------------------------------------------

def test_every_ragchaos_command_is_a_real_subcommand(services: dict[str, Any]) -> None:
    parser = build_parser()
    bad = []
    for name, svc in _project_services(services).items():
        argv = svc["command"]
        if argv[0] != "ragchaos":
            continue
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit:
            bad.append(f"{name}: {' '.join(argv)}")
            continue
        assert getattr(args, "func", None) is not None, f"{name}: {argv} names no action"
        if getattr(args, "host", None) == "0.0.0.0":
            assert args.allow_remote, f"{name}: binds 0.0.0.0 without --allow-remote"
    assert not bad, "not ragchaos subcommands (yet?):\n" + "\n".join(bad)


def test_runner_scenario_is_a_builtin(services: dict[str, Any]) -> None:
    from ragchaos.scenarios.loader import builtin_names

    scenario = services["runner"]["command"][2]
    assert scenario in builtin_names(), f"runner scenario {scenario!r} is not built in: {builtin_names()}"
    assert services["runner"]["command"][3:] == ["--out", "/runs"]
    assert "./runs:/runs" in services["runner"]["volumes"]


def _locust_services(services: dict[str, Any]) -> dict[str, list[str]]:
    return {n: s["command"] for n, s in _project_services(services).items() if s["command"][0] == "locust"}


def test_locust_commands_parse_with_locusts_own_parser(services: dict[str, Any]) -> None:
    """In a subprocess: importing locust monkey-patches the process it runs in."""
    commands = _locust_services(services)
    assert set(commands) == {"locust-master", "locust-worker"}
    code = (
        "import json, sys\n"
        "from locust.argument_parser import parse_options\n"
        "out = {}\n"
        "for name, argv in json.loads(sys.argv[1]).items():\n"
        "    o = parse_options(args=argv[1:])\n"
        "    out[name] = {k: getattr(o, k) for k in ('master', 'worker', 'master_host', 'master_port',\n"
        "                 'master_bind_port', 'web_port', 'web_host', 'locustfile')}\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(commands)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    opts = json.loads(proc.stdout.strip().splitlines()[-1])
    master, worker = opts["locust-master"], opts["locust-worker"]
    assert master["master"] and not master["worker"]
    assert worker["worker"] and worker["master_host"] == "locust-master"
    assert worker["master_port"] == master["master_bind_port"]
    assert master["web_port"] == _container_port(services["locust-master"])
    assert master["web_port"] == _default(_subparser(build_parser(), "up"), "web_port")  # ragchaos up's UI port
    assert master["locustfile"] == worker["locustfile"]


def test_the_locustfile_drives_the_apps_compose_names(services: dict[str, Any]) -> None:
    """ragchaos/scenarios/locustfile.py loaded (in a subprocess: it imports Locust) with compose's
    environment: one user class per app, aimed at the URL compose gives it."""
    path = _locust_services(services)["locust-master"][2]
    local = ROOT / Path(path).relative_to("/app")
    assert local.exists(), f"{path}: no {local.relative_to(ROOT)} in the repository (scenarios/ owns it)"
    env = services["locust-master"]["environment"]
    assert services["locust-worker"]["environment"] == env
    seed_env = services["seed"]["environment"]
    assert seed_env["RAGCHAOS_SCENARIO"] == env["RAGCHAOS_SCENARIO"]
    assert seed_env["RAGCHAOS_NAIVE_URL"] == env["RAGCHAOS_NAIVE_URL"]
    # seeded through one replica (deploy/seed.py pins it), loaded through the balancer
    port = _serve_port(services["reference-app"]["command"])
    assert seed_env["RAGCHAOS_REFERENCE_URL"] == f"http://reference-app:{port}"
    code = (
        "import json, runpy\n"
        "from locust import User\n"
        f"ns = runpy.run_path({str(local)!r})\n"
        "print(json.dumps(sorted(o.host for o in ns.values()\n"
        "      if isinstance(o, type) and issubclass(o, User) and not o.abstract)))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAGCHAOS_")}
    proc = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hosts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert hosts == sorted([env["RAGCHAOS_NAIVE_URL"], env["RAGCHAOS_REFERENCE_URL"]])


def test_seed_step_is_the_mounted_script(services: dict[str, Any]) -> None:
    seed = services["seed"]
    assert seed["command"] == ["python", "/deploy/seed.py"]
    assert "./deploy/seed.py:/deploy/seed.py:ro" in seed["volumes"]


# -- ports, paths and variables match the code --------------------------------------------

def _serve_port(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def test_ports_match_the_code_defaults(services: dict[str, Any]) -> None:
    parser = build_parser()
    defaults = AppSettings()
    for app, kind in APP_SERVICES.items():
        argv = services[app]["command"]
        port = _serve_port(argv)
        assert port == _default(_subparser(parser, kind, "serve"), "port"), app
        assert urlsplit(_health_url(services[app])).port == port
    assert urlsplit(_health_url(services["naive-app"])).port == _container_port(services["naive-app"])
    # the provider's --port has no default; the apps' default provider URL names its port
    provider_port = _serve_port(services["provider"]["command"])
    assert provider_port == urlsplit(defaults.provider_url).port == _container_port(services["provider"])
    assert urlsplit(_health_url(services["provider"])).port == provider_port
    # Chroma on the host where an app with default settings looks for it
    assert services["chroma"]["ports"] == [f"127.0.0.1:{defaults.chroma_port}:8000"]
    toxi = services["toxiproxy"]
    api_port = int(next(a for a in toxi["command"] if a.startswith("-port=")).split("=")[1])
    assert api_port == _default(_subparser(parser, "toxiproxy", "serve"), "port") == _container_port(toxi)
    assert services["redis"]["ports"] == [f"127.0.0.1:{SHARED_REDIS[1]}:6379"]


def test_health_checks_use_the_contract_paths(services: dict[str, Any]) -> None:
    for name, path in HEALTH_PATHS.items():
        assert urlsplit(_health_url(services[name])).path == path, name
    assert urlsplit(_health_url(services["chroma"])).path == "/api/v2/heartbeat"
    assert urlsplit(_health_url(services["reference-lb"])).path == "/readyz"


def _settings_class(app: str) -> type[AppSettings]:
    """The settings each app's ``serve`` builds (naive: the shared ones; reference: its own)."""
    if app == "reference":
        from ragchaos.reference_app.settings import ReferenceSettings

        return ReferenceSettings
    return AppSettings


def test_app_environment_is_what_the_settings_read(services: dict[str, Any], monkeypatch) -> None:
    contract = set(re.findall(r"`(RAGCHAOS_[A-Z_]+|REDIS_URL)`", (ROOT / "docs" / "contracts.md").read_text()))
    for service, app in APP_SERVICES.items():
        cls = _settings_class(app)
        known = {f"RAGCHAOS_{name.upper()}" for name in cls.model_fields} | {"REDIS_URL", "ANONYMIZED_TELEMETRY"}
        env = services[service]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{service}: variables no setting reads: {unknown}"
        undocumented = set(env) - contract - {"ANONYMIZED_TELEMETRY"}
        assert not undocumented, f"{service}: variables docs/contracts.md does not list: {undocumented}"
        for key in [k for k in os.environ if k.startswith("RAGCHAOS_") or k == "REDIS_URL"]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = cls()
        assert settings.app_name == app and settings.api_key == app
        assert settings.collection_name == f"{app}_chunks"
        assert str(settings.data_dir) == "/data"
        assert settings.redis_url == env.get("REDIS_URL")
        assert (settings.redis_url is not None) == (app == "reference")


def test_apps_reach_their_dependencies_through_their_own_proxies(services: dict[str, Any], proxies) -> None:
    assert set(proxies) == {f"{app}_{dep}" for app in APP_SERVICES.values() for dep in DEPENDENCIES}
    provider_port = _serve_port(services["provider"]["command"])
    chroma_port = int(services["chroma"]["command"][services["chroma"]["command"].index("--port") + 1])
    listen_ports = set()
    for service, app in APP_SERVICES.items():
        env = services[service]["environment"]
        url = urlsplit(env["RAGCHAOS_PROVIDER_URL"])
        assert url.hostname == "toxiproxy" and url.path == "/v1"
        assert proxies[f"{app}_provider"]["listen"] == f"0.0.0.0:{url.port}"
        assert proxies[f"{app}_provider"]["upstream"] == f"provider:{provider_port}"
        assert env["RAGCHAOS_CHROMA_HOST"] == "toxiproxy"
        assert proxies[f"{app}_vectordb"]["listen"] == f"0.0.0.0:{env['RAGCHAOS_CHROMA_PORT']}"
        assert proxies[f"{app}_vectordb"]["upstream"] == f"chroma:{chroma_port}"
        listen_ports |= {url.port, int(env["RAGCHAOS_CHROMA_PORT"])}
    assert len(listen_ports) == 4
    assert all(p["enabled"] for p in proxies.values())
    redis = urlsplit(services["reference-app"]["environment"]["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)


def test_the_balancer_sends_to_the_reference_replicas(services: dict[str, Any]) -> None:
    conf = (ROOT / "deploy" / "nginx-reference.conf").read_text()
    port = _serve_port(services["reference-app"]["command"])
    assert re.search(rf"server reference-app:{port} resolve;", conf)
    assert "proxy_next_upstream off;" in conf  # a failure is measured, not retried elsewhere
    assert "proxy_buffering off;" in conf  # streamed answers keep their time to first token
    assert urlsplit(_health_url(services["reference-lb"])).port == 8080 and "listen 8080;" in conf
    env = services["locust-master"]["environment"]
    assert env["RAGCHAOS_REFERENCE_URL"] == "http://reference-lb:8080"  # the fleet, through the balancer
    assert env["RAGCHAOS_NAIVE_URL"] == f"http://naive-app:{_serve_port(services['naive-app']['command'])}"


def test_the_populate_file_loads_into_a_toxiproxy_api(proxies, tmp_path) -> None:
    """The same file through the built-in proxy's ``--config`` (the real one's ``-config``),
    listen addresses moved to free loopback ports: every proxy is created as written."""
    from ragchaos.core.ports import LOOPBACK, free_port
    from ragchaos.core.procs import ManagedProcess, python_module_argv

    entries = [{**p, "listen": f"{LOOPBACK}:{free_port()}"} for p in proxies.values()]
    config = tmp_path / "populate.json"
    config.write_text(json.dumps(entries))
    port = free_port()
    proc = ManagedProcess(
        "toxiproxy", python_module_argv("ragchaos", "toxiproxy", "serve", "--port", str(port), "--config", str(config)),
        health_url=f"http://{LOOPBACK}:{port}/version", log_path=tmp_path / "toxiproxy.log",
    )
    try:
        proc.start().wait_healthy(30)
        import urllib.request

        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/proxies", timeout=5) as resp:
            created = json.loads(resp.read())
    finally:
        proc.stop()
    assert {n: (p["listen"], p["upstream"], p["enabled"]) for n, p in created.items()} == {
        e["name"]: (e["listen"], e["upstream"], True) for e in entries
    }
