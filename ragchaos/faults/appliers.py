"""How a fault reaches its target: one applier per channel (``network`` or ``provider``).

A fault kind says *what* (``toxics()`` or ``to_json()``); an applier does the blocking HTTP
calls that put it in place and take it away again. Both are synchronous on purpose: the
timeline runs in a gevent greenlet next to Locust or in a plain thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.errors import NotFound, ProviderControlError
from ragchaos.faults.kinds import DownFault, NetworkFault, ProviderFault
from ragchaos.faults.step import FaultStep

__all__ = ["Applier", "NetworkApplier", "ProviderApplier", "ProxyNamer", "default_proxy_name"]

ProxyNamer = Callable[[str, str], str]


def default_proxy_name(app: str, dependency: str) -> str:
    return f"{app}_{dependency}"


def _named(step: FaultStep) -> str:
    """The dependency's name: the timeline hands appliers steps with roles already resolved."""
    if step.dependency is None:
        raise ValueError(f"fault step {step.step_name!r} names a role ({step.role}), not a dependency; "
                         "plan it through the timeline, which resolves roles per target")
    return step.dependency


class Applier(Protocol):
    def apply(self, step: FaultStep, target: str, duration_s: float | None) -> Any: ...

    def revert(self, step: FaultStep, target: str, handle: Any) -> None: ...


class NetworkApplier:
    """Toxics on proxy ``proxy_name(app, dependency)``; ``down`` disables the proxy."""

    def __init__(self, client: ToxiproxyClient, proxy_name: ProxyNamer = default_proxy_name) -> None:
        self.client = client
        self.proxy_name = proxy_name
        # two overlapping ``down`` steps on one proxy: only the last revert re-enables it
        self._down_count: dict[str, int] = {}
        self._lock = threading.Lock()

    def apply(self, step: FaultStep, target: str, duration_s: float | None) -> list[str]:
        fault = step.fault
        assert isinstance(fault, NetworkFault)
        proxy = self.proxy_name(target, _named(step))
        if isinstance(fault, DownFault):
            with self._lock:
                if self._down_count.get(proxy, 0) == 0:
                    self.client.disable(proxy)
                self._down_count[proxy] = self._down_count.get(proxy, 0) + 1
            return []
        added: list[str] = []
        try:
            for spec in fault.toxics():
                name = f"{step.step_name}_{spec.stream}"
                self.client.add_toxic(
                    proxy, type=spec.type, stream=spec.stream, name=name,
                    toxicity=spec.toxicity, attributes=spec.attributes,
                )
                added.append(name)
        except Exception:
            # half a fault is worse than none: take back what was added, then report
            for name in added:
                self._remove(proxy, name)
            raise
        return added

    def revert(self, step: FaultStep, target: str, handle: list[str]) -> None:
        proxy = self.proxy_name(target, _named(step))
        if isinstance(step.fault, DownFault):
            with self._lock:
                left = self._down_count.get(proxy, 1) - 1
                self._down_count[proxy] = max(left, 0)
                if left <= 0:
                    self.client.enable(proxy)
            return
        for name in handle:
            self._remove(proxy, name)

    def _remove(self, proxy: str, name: str) -> None:
        # already gone (a /reset, or a proxy recreated): the goal is reached
        with contextlib.suppress(NotFound):
            self.client.remove_toxic(proxy, name)


class ProviderApplier:
    """Faults on the provider's control API, aimed at one app by its key (= its name)."""

    # if the runner dies before reverting, the provider drops the fault by itself this long
    # after its planned end, so a crashed run does not leave a provider broken for the next one
    EXPIRY_GRACE_S = 30.0

    def __init__(self, control_url: str, timeout: float = 5.0) -> None:
        self.base = control_url.rstrip("/")
        self.timeout = timeout

    def apply(self, step: FaultStep, target: str, duration_s: float | None) -> str:
        fault = step.fault
        assert isinstance(fault, ProviderFault)
        expires = None if duration_s is None else duration_s + self.EXPIRY_GRACE_S
        body = fault.to_json(key=target, fault_id=f"{step.step_name}.{target}", expires_after_s=expires)
        answer = self._call("POST", "/_control/faults", body)
        return str((answer or {}).get("id") or body["id"])

    def revert(self, step: FaultStep, target: str, handle: str) -> None:
        try:
            self._call("DELETE", f"/_control/faults/{urllib.parse.quote(handle, safe='')}")
        except ProviderControlError as exc:
            if "404" not in str(exc):  # expired or cleared already: the goal is reached
                raise

    def _call(self, method: str, path: str, body: Any | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise ProviderControlError(f"{method} {path} -> {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ProviderControlError(f"{method} {self.base}{path}: {exc}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None
