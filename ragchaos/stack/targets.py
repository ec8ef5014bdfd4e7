"""Targets: the services a run sends load to, ours or the user's, all described the same way.

A target is one of

- ``builtin: naive|reference``: one of our apps, started by the stack;
- ``command: "uvicorn myrag:app --port {port}"``: a service ragchaos starts (on a free port,
  ``{port}``) and stops, with the addresses of its dependencies in its environment;
- ``url: http://127.0.0.1:8000``: a service already running; the addresses are printed.

Each has a health path, request templates (``ragchaos.stack.templates``) for queries and ingests,
named dependencies (``provider``, ``chroma`` or a loopback ``host:port``), each reached
through a fault proxy ``<target>_<dependency>``, and optional span rules that map the
service's OpenTelemetry span names to stage names (``ragchaos.stack.otlp``).
"""

from __future__ import annotations

import re
import shlex
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragchaos.stack.templates import INGEST_PLACEHOLDERS, QUERY_PLACEHOLDERS, RequestTemplate

__all__ = [
    "BUILTIN_TARGETS",
    "Target",
    "TargetError",
    "check_reachable",
    "dependency_env",
    "parse_target_arg",
    "split_upstream",
]

# the built-in upstreams a dependency can name; anything else is a loopback host:port
UPSTREAMS = ("provider", "chroma")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TargetError(RuntimeError):
    """A target that cannot be used; the message names it and says why."""


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    builtin: Literal["naive", "reference"] | None = None
    command: str | None = None
    url: str | None = None
    cwd: str | None = None
    health: str = Field(default="/healthz", pattern=r"^/")
    start_timeout: float = Field(default=60.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)
    # for a builtin target, left out: our apps' templates
    query: RequestTemplate = None  # type: ignore[assignment]  # None only until the validator below fills it
    ingest: RequestTemplate = None  # type: ignore[assignment]  # None only until the validator below fills it
    # dependency name -> upstream: "provider", "chroma" or "127.0.0.1:6379"
    dependencies: dict[str, str] = Field(default_factory=lambda: {"provider": "provider"})
    # span name glob -> stage name, e.g. {"embed*": "query.embed"}
    spans: dict[str, str] = Field(default_factory=dict)
    # the target serves GET /_stats/hdr + POST /_stats/reset (ragchaos.measure.stages) / Prometheus /metrics
    stats: bool = False
    metrics: bool = False

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
        for rule, stage in self.spans.items():
            if not re.match(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", stage):
                out.append((("spans", rule), f"stage {stage!r} should look like query.embed"))
        return out

    def argv(self, port: int) -> list[str]:
        """The command's words, ``{port}`` the port ragchaos chose, ``{python}`` its own interpreter
        (so ``{python} -m uvicorn ...`` runs in the same virtualenv)."""
        assert self.command is not None
        return [part.replace("{port}", str(port)).replace("{python}", sys.executable)
                for part in shlex.split(self.command)]

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
        stats=True, metrics=True,
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
