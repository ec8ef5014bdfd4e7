"""A run talks to loopback only, unless ``--allow-remote`` says otherwise.

``ragchaos run`` is a load generator and a fault injector: pointed at a shared staging host or
a real provider by a stray environment variable, it would flood it, or run up a bill. Every
address a run would reach that does not come from the stack we start is listed here with where
it came from, and the run is refused while any is not loopback:

- ``TOXIPROXY_URL`` (a fault proxy we would drive instead of starting our own);
- a target's ``url`` and its ``env``, and every ``app_env`` value that holds a URL or a
  host (``RAGCHAOS_PROVIDER_URL``, ``RAGCHAOS_CHROMA_HOST``, ``REDIS_URL``, ...).

``--allow-remote`` lifts the refusal (the addresses are then printed, not hidden).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from ragchaos.core.ports import is_loopback_host
from ragchaos.scenarios.schema import Scenario

__all__ = ["remote_addresses"]

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOST_KEY = re.compile(r"(^|_)HOST$", re.IGNORECASE)


def _host_of(value: str, key: str) -> str | None:
    """The host a setting points at, or None when it is not an address at all."""
    value = value.strip()
    if _URL.match(value):
        try:
            return urlsplit(value).hostname or ""
        except ValueError:
            return ""
    if _HOST_KEY.search(key) and value:
        return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return None


def _settings(where: str, env: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for key, value in env.items():
        host = _host_of(str(value), key)
        if host is not None and not is_loopback_host(host):
            yield f"{where}.{key}", str(value)


def remote_addresses(scenario: Scenario, environ: Mapping[str, str]) -> list[str]:
    """``where=value`` for every non-loopback address the run would reach."""
    found: list[tuple[str, str]] = []
    toxiproxy = environ.get("TOXIPROXY_URL")
    if toxiproxy and not is_loopback_host(_host_of(toxiproxy, "TOXIPROXY_URL") or toxiproxy):
        found.append(("TOXIPROXY_URL", toxiproxy))
    for app, env in scenario.app_env.items():
        found.extend(_settings(f"app_env.{app}", env))
    for name, target in getattr(scenario, "targets", {}).items():
        url = getattr(target, "url", None)
        if url and not is_loopback_host(_host_of(url, "url") or url):
            found.append((f"targets.{name}.url", url))
        env = getattr(target, "env", {}) or {}
        if hasattr(target, "environment"):  # {dep.host} etc. become a proxy's address: always loopback
            env = target.environment(None, {d: "127.0.0.1:1" for d in target.dependencies})
        found.extend(_settings(f"targets.{name}.env", env))
    return [f"{where}={value}" for where, value in found]
