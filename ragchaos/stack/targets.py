"""Targets: the services a run sends load to, ours or the user's, all described the same way.

A target is one of

- ``builtin: naive|reference``: one of our apps, started by the stack;
- ``command: "uvicorn myrag:app --port {port}"``: a service ragchaos starts (on a free port,
  ``{port}``) and stops, with the addresses of its dependencies in its environment;
- ``url: http://127.0.0.1:8000``: a service already running; the addresses are printed.

Each has a health path, request templates (``ragchaos.stack.templates``) for queries and ingests,
named dependencies (``provider``, ``chroma`` or a loopback ``host:port``), each reached
through a fault proxy ``<target>_<dependency>`` and each with a role (``provider``,
``vector_store``, ``cache``, ``other``: what fault steps address), and optional span rules
that map the service's OpenTelemetry spans to stage names (``ragchaos.stack.otlp``).

A started target's ``command`` and ``env`` may name where each dependency's proxy is:
``{<dependency>.host}``, ``{<dependency>.port}``, ``{<dependency>.addr}`` (host:port) and
``{<dependency>.url}`` (http://host:port), besides ``{port}`` (its own) and ``{python}``;
``{{`` and ``}}`` are literal braces. So a service that reads ``CHROMA_HOST`` needs no wrapper:
``env: {CHROMA_HOST: "{vectordb.host}", CHROMA_PORT: "{vectordb.port}"}``.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragchaos.faults.step import DEPENDENCY_ROLES
from ragchaos.stack.otlp import SpanRule, as_rules
from ragchaos.stack.templates import INGEST_PLACEHOLDERS, QUERY_PLACEHOLDERS, RequestTemplate

__all__ = [
    "ADDRESS_FIELDS",
    "BUILTIN_TARGETS",
    "ReadyProbe",
    "Target",
    "TargetError",
    "check_reachable",
    "dependency_env",
    "parse_target_arg",
    "split_upstream",
]

# the built-in upstreams a dependency can name; anything else is a loopback host:port
UPSTREAMS = ("provider", "chroma")
# a dependency's role when the target does not say: what its upstream is
_ROLE_BY_UPSTREAM = {"provider": "provider", "chroma": "vector_store"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# {port}, {python}, {<dependency>.host|port|addr|url}; {{ and }} are literal braces
ADDRESS_FIELDS = ("host", "port", "addr", "url")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_]+))?\}")


class TargetError(RuntimeError):
    """A target that cannot be used; the message names it and says why."""


class ReadyProbe(BaseModel):
    """A request and the answer it must get before the load starts (after seeding): a health path
    says the process is up, this says it can serve (its model loaded, its corpus in)."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(default="GET", pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")
    path: str = Field(pattern=r"^/")
    body: Any = None
    status: int = Field(default=200, ge=100, le=599)
    contains: str | None = None  # a piece of text the answer's body must hold
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    def check(self, base_url: str) -> str | None:
        """None when the answer is as expected; else what came back instead."""
        data = None if self.body is None else json.dumps(self.body).encode()
        req = urllib.request.Request(base_url.rstrip("/") + self.path, data=data, method=self.method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, text = resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            return f"no answer ({getattr(exc, 'reason', exc)})"
        if status != self.status:
            return f"answered {status} (expected {self.status}): {text[:200]}"
        if self.contains is not None and self.contains not in text:
            return f"answered {status} without {self.contains!r}: {text[:200]}"
        return None


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    builtin: Literal["naive", "reference"] | None = None
    command: str | None = None
    url: str | None = None
    cwd: str | None = None
    health: str = Field(default="/healthz", pattern=r"^/")
    ready: ReadyProbe | None = None
    start_timeout: float = Field(default=60.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)
    # for a builtin target, left out: our apps' templates
    query: RequestTemplate = None  # type: ignore[assignment]  # None only until the validator below fills it
    ingest: RequestTemplate = None  # type: ignore[assignment]  # None only until the validator below fills it
    # dependency name -> upstream: "provider", "chroma" or "127.0.0.1:6379"; in the file a value
    # may also be {upstream: ..., role: ...}, which fills ``roles``
    dependencies: dict[str, str] = Field(default_factory=lambda: {"provider": "provider"})
    # dependency name -> role (provider, vector_store, cache, other); unsaid: from the upstream
    roles: dict[str, str] = Field(default_factory=dict)
    # span name glob -> stage name, e.g. {"embed*": "query.embed"}, or a list of rules that also
    # match attributes: [{name: haystack.component.run, attributes: {...}, stage: query.embed}]
    spans: dict[str, str] | list[SpanRule] = Field(default_factory=dict)
    # the target serves GET /_stats/hdr + POST /_stats/reset (ragchaos.measure.stages) / Prometheus /metrics
    stats: bool = False
    metrics: bool = False

    @model_validator(mode="before")
    @classmethod
    def _dependency_forms(cls, data: Any) -> Any:
        """``vectordb: {upstream: chroma, role: vector_store}`` -> a dependency and its role."""
        deps = data.get("dependencies") if isinstance(data, dict) else None
        if not isinstance(deps, dict) or not any(isinstance(v, dict) for v in deps.values()):
            return data
        plain: dict[Any, Any] = {}
        roles = dict(data.get("roles") or {})
        for name, value in deps.items():
            if isinstance(value, dict):
                unknown = set(value) - {"upstream", "role"}
                if unknown or "upstream" not in value:
                    raise ValueError(f"dependencies.{name}: write an upstream (provider, chroma or "
                                     f"127.0.0.1:PORT) or {{upstream: ..., role: ...}}"
                                     + (f"; unknown field {sorted(unknown)[0]!r}" if unknown else ""))
                plain[name] = value["upstream"]
                if value.get("role") is not None:
                    roles[name] = value["role"]
            else:
                plain[name] = value
        return {**data, "dependencies": plain, "roles": roles}

    @model_validator(mode="after")
    def _one_way_to_reach(self) -> Target:
        given = [k for k in ("builtin", "command", "url") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of builtin, command or url"
                             + (f" (got {', '.join(given)})" if given else ""))
        for kind in ("query", "ingest"):
            if getattr(self, kind) is None:
                if self.builtin is None:
                    raise ValueError(f"a {kind} template is needed (method, path, body)")
                setattr(self, kind, getattr(BUILTIN_TARGETS[self.builtin], kind))
        unset = [n for n in ("dependencies", "stats", "metrics", "health") if n not in self.model_fields_set]
        if self.builtin is not None and unset:  # what ours need, unless said otherwise
            for name in unset:
                setattr(self, name, getattr(BUILTIN_TARGETS[self.builtin], name))
        return self

    @property
    def started(self) -> bool:
        """ragchaos starts (and stops) this target."""
        return self.url is None

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        out: list[tuple[tuple[str | int, ...], str]] = []
        out += [(("query", *p), m) for p, m in self.query.problems(QUERY_PLACEHOLDERS)]
        out += [(("ingest", *p), m) for p, m in self.ingest.problems(INGEST_PLACEHOLDERS)]
        if self.command is not None and "{port}" not in self.command:
            out.append((("command",), "the command must take its port from {port} (ragchaos picks a free one)"))
        if self.command is not None:
            try:
                shlex.split(self.command)
            except ValueError as exc:
                out.append((("command",), f"cannot split the command: {exc}"))
        if self.url is not None and not re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/?$", self.url):
            out.append((("url",), f"{self.url!r}: a target must be on loopback, e.g. http://127.0.0.1:8000"))
        for dep, upstream in self.dependencies.items():
            if not _NAME.match(dep):
                out.append((("dependencies", dep), "a dependency name is lower case letters, digits and _"))
            try:
                split_upstream(upstream)
            except ValueError as exc:
                out.append((("dependencies", dep), str(exc)))
        for i, rule in enumerate(as_rules(self.spans)):
            if not re.match(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", rule.stage):
                where: tuple[str | int, ...] = ("spans", rule.name) if isinstance(self.spans, dict) else ("spans", i)
                out.append((where, f"stage {rule.stage!r} should look like query.embed"))
        for dep, role in self.roles.items():
            if dep not in self.dependencies:
                out.append((("roles", dep), f"no dependency {dep!r} to give a role (dependencies: "
                                            f"{', '.join(self.dependencies) or 'none'})"))
            if role not in DEPENDENCY_ROLES:
                out.append((("dependencies", dep), f"role {role!r} is not a dependency role; roles: "
                                                   f"{', '.join(DEPENDENCY_ROLES)}"))
        if self.command is not None:
            out += [(("command",), m) for m in self._placeholder_problems(self.command)]
        for key, value in self.env.items():
            out += [(("env", key), m) for m in self._placeholder_problems(value)]
        return out

    # -- roles -------------------------------------------------------------------------------
    def role_of(self, dependency: str) -> str:
        """What ``dependency`` is to this target: said in the file, else from its upstream."""
        return self.roles.get(dependency) or _ROLE_BY_UPSTREAM.get(self.dependencies.get(dependency, ""), "other")

    def with_role(self, role: str) -> list[str]:
        return [d for d in self.dependencies if self.role_of(d) == role]

    # -- placeholders in command and env -------------------------------------------------------
    def known_placeholders(self) -> list[str]:
        return ["{port}", "{python}"] + [f"{{{d}.{f}}}" for d in self.dependencies for f in ADDRESS_FIELDS]

    def _placeholder_problems(self, text: str) -> list[str]:
        out = []
        for m in _PLACEHOLDER.finditer(text):
            name, field = m.group(1), m.group(2)
            if name is None:
                continue
            if field is None and name in ("port", "python"):
                continue
            if field is not None and name in self.dependencies and field in ADDRESS_FIELDS:
                continue
            known = ", ".join(self.known_placeholders())
            if field is None and name in self.dependencies:
                out.append(f"{{{name}}} needs a part: {{{name}.host}}, {{{name}.port}}, {{{name}.addr}} or "
                           f"{{{name}.url}}")
            elif name not in self.dependencies and field in ADDRESS_FIELDS:
                out.append(f"unknown placeholder {m.group(0)}: no dependency {name!r} (dependencies: "
                           f"{', '.join(self.dependencies) or 'none'}); known here: {known}")
            else:
                out.append(f"unknown placeholder {m.group(0)}; known here: {known}")
        return out

    def expand(self, text: str, port: int | None, proxies: Mapping[str, str]) -> str:
        """``text`` with its placeholders filled: ``proxies`` maps each dependency to its proxy's host:port."""

        def one(m: re.Match[str]) -> str:
            whole, name, field = m.group(0), m.group(1), m.group(2)
            if name is None:
                return whole[0]  # {{ -> {, }} -> }
            if field is None:
                if name == "port" and port is not None:
                    return str(port)
                if name == "python":
                    return sys.executable
                return whole
            addr = proxies.get(name)
            if addr is None:
                return whole
            host, _, p = addr.rpartition(":")
            return {"host": host, "port": p, "addr": addr, "url": f"http://{addr}"}.get(field, whole)

        return _PLACEHOLDER.sub(one, text)

    def argv(self, port: int, proxies: Mapping[str, str] | None = None) -> list[str]:
        """The command's words, ``{port}`` the port ragchaos chose, ``{python}`` its own interpreter
        (so ``{python} -m uvicorn ...`` runs in the same virtualenv), ``{<dependency>.host}`` etc.
        where each dependency's proxy listens."""
        assert self.command is not None
        return [self.expand(part, port, proxies or {}) for part in shlex.split(self.command)]

    def environment(self, port: int | None, proxies: Mapping[str, str]) -> dict[str, str]:
        """``env`` with its placeholders filled."""
        return {k: self.expand(v, port, proxies) for k, v in self.env.items()}

    def working_dir(self, base: Path | None = None) -> Path | None:
        if self.cwd is None:
            return None
        path = Path(self.cwd)
        return path if path.is_absolute() or base is None else base / path


def split_upstream(upstream: str) -> tuple[str, int] | str:
    """``provider``/``chroma`` as is; ``host:port`` (loopback only) as a pair."""
    if upstream in UPSTREAMS:
        return upstream
    m = re.fullmatch(r"(127\.0\.0\.1|localhost):(\d{1,5})", upstream.strip())
    if m is None or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"upstream {upstream!r}: give provider, chroma or a loopback host:port "
                         "(e.g. 127.0.0.1:6379)")
    return ("127.0.0.1", int(m.group(2)))


def dependency_env(target: str, proxies: Mapping[str, str], otlp_endpoint: str | None) -> dict[str, str]:
    """The environment a started target gets: where each dependency is (through its proxy)."""
    env: dict[str, str] = {}
    for dep, addr in proxies.items():
        env[f"RAGCHAOS_{dep.upper()}_ADDR"] = addr
    if "provider" in proxies:
        env["OPENAI_BASE_URL"] = f"http://{proxies['provider']}/v1"
        env["OPENAI_API_KEY"] = target  # the provider's stats and faults are per key
    if otlp_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_endpoint
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{otlp_endpoint}/v1/traces"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        env["OTEL_SERVICE_NAME"] = target
        env["OTEL_TRACES_EXPORTER"] = "otlp"
        # spans are phased by their end time, but the last ones must arrive before the run ends
        env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    return env


def check_reachable(name: str, url: str, health: str, timeout: float = 5.0) -> None:
    """A target we did not start must answer its health path now, or the run does not begin."""
    full = url.rstrip("/") + health
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:
            if resp.status >= 300:
                raise TargetError(f"target {name}: GET {full} answered {resp.status}")
    except urllib.error.HTTPError as exc:
        raise TargetError(f"target {name}: GET {full} answered {exc.code}; is the health path right?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetError(f"target {name}: {full} is unreachable ({reason}); start it first, "
                          "or give a command for ragchaos to start") from None


def _ours(kind: Literal["naive", "reference"], health: str) -> Target:
    return Target(
        builtin=kind,
        health=health,
        query=RequestTemplate(
            path="/v1/query",
            body={"tenant": "{tenant}", "question": "{question}", "top_k": "{top_k}", "stream": "{stream}"},
            sources="sources[*].doc_id", degraded="degraded",
        ),
        ingest=RequestTemplate(
            path="/v1/documents",
            body={"tenant": "{tenant}", "doc_id": "{doc_id}", "text": "{text}", "metadata": "{metadata}"},
            job="job_id", job_poll="/v1/jobs/{job_id}",
        ),
        dependencies={"provider": "provider", "vectordb": "chroma"},
        # the reference app measures itself; the naive app does not, so a run times its calls
        # at the fault proxy only (scenarios/proxycalls.py), as it times a user's service
        stats=kind == "reference", metrics=kind == "reference",
    )


BUILTIN_TARGETS: dict[str, Target] = {
    "naive": _ours("naive", "/healthz"),
    "reference": _ours("reference", "/readyz"),
}


def parse_target_arg(value: str, known: Mapping[str, Target]) -> tuple[str, dict[str, Any]]:
    """``--target NAME=COMMAND`` or ``--target NAME=URL`` -> (name, fields to set on the target).

    A target the scenario (or ``--targets FILE``) does not describe gets our apps' API
    templates: it is assumed to speak the ragchaos app API.
    """
    name, sep, rest = value.partition("=")
    name, rest = name.strip(), rest.strip()
    if not sep or not name or not rest:
        raise TargetError(f"--target {value!r}: write NAME=COMMAND (with {{port}}) or NAME=http://127.0.0.1:PORT")
    if not _NAME.match(name):
        raise TargetError(f"--target {value!r}: a target name is lower case letters, digits and _")
    base = known.get(name)
    fields: dict[str, Any] = base.model_dump(exclude_none=True) if base else BUILTIN_TARGETS["naive"].model_dump(
        exclude={"builtin", "stats", "metrics"}, exclude_none=True) | {"dependencies": {"provider": "provider"}}
    for k in ("builtin", "command", "url"):
        fields.pop(k, None)
    if rest.startswith(("http://", "https://")):
        fields["url"] = rest
    else:
        fields["command"] = rest
    return name, fields
