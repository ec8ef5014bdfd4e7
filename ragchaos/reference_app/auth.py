"""API-key authentication: the caller's key decides its tenant (off unless keys are configured).

Switch: on when ``RAGCHAOS_AUTH_KEYS`` (``key=tenant,key=tenant``) or ``RAGCHAOS_AUTH_KEYS_FILE``
(one ``key tenant`` or ``key=tenant`` a line, ``#`` comments) is set; off otherwise, which keeps
the App API of docs/contracts.md unchanged for the harness. Metric:
``ragchaos_auth_rejections_total{reason}`` (missing, unknown, tenant_mismatch, job_of_other_tenant).

With auth on, every ``/v1/`` request needs ``Authorization: Bearer <key>``:

- no key or an unknown key: 401 ``unauthorized`` (``WWW-Authenticate: Bearer``);
- a JSON body without ``tenant`` gets the key's tenant; a body naming another tenant is refused
  with 403 ``tenant_mismatch`` rather than silently rewritten, so a misconfigured client finds out;
- ``GET /v1/jobs/{id}`` of another tenant's job answers 404, as if it did not exist (a 403 would
  confirm that the id is real).

Keys are kept only as SHA-256 digests and compared with ``hmac.compare_digest`` against every
known digest, so neither the keys nor the timing of a comparison say which key was close. Keys
never appear in a log line or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ragchaos.kit.authkeys import AuthConfigError, load_pairs
from ragchaos.kit.errors import ApiError

__all__ = ["AuthConfigError", "AuthMiddleware", "KeyTable", "install_auth", "load_keys", "load_pairs"]

def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyTable:
    """Digest of each API key → its tenant."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._entries = [(_digest(k), t) for k, t in keys.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def tenant_of(self, key: str) -> str | None:
        presented = _digest(key)
        found = None
        for digest, tenant in self._entries:  # no early exit: every lookup costs the same
            if hmac.compare_digest(presented, digest):
                found = tenant
        return found


def load_keys(env: Mapping[str, str] | None = None) -> KeyTable | None:
    """The key table from the environment, or None when auth is off."""
    pairs = load_pairs(env)
    return KeyTable(dict(pairs)) if pairs else None


class AuthMiddleware:
    """Pure ASGI: resolves the tenant before the route runs; bodies are small (BodyLimit caps them)."""

    def __init__(self, app: Any, keys: KeyTable, registry: CollectorRegistry | None = None) -> None:
        self.app = app
        self.keys = keys
        self.rejections = Counter("ragchaos_auth_rejections", "Requests refused by authentication, by reason",
                                  ["reason"], registry=registry)
        for reason in ("missing", "unknown", "tenant_mismatch", "job_of_other_tenant"):
            self.rejections.labels(reason)

    def _refuse(self, status: int, type: str, message: str, reason: str) -> ApiError:
        self.rejections.labels(reason).inc()
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return ApiError(status, type, message, headers)

    def _tenant(self, scope: dict[str, Any]) -> str:
        raw = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = raw.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise self._refuse(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'", "missing")
        tenant = self.keys.tenant_of(key.strip())
        if tenant is None:
            raise self._refuse(401, "unauthorized", "unknown API key", "unknown")
        return tenant

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        tenant = self._tenant(scope)
        scope.setdefault("state", {})["tenant"] = tenant
        if scope["method"] == "POST":
            receive = await self._checked_body(tenant, receive)
            await self.app(scope, receive, send)
        elif scope["path"].startswith("/v1/jobs/"):
            await self._own_jobs_only(tenant, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _checked_body(self, tenant: str, receive: Any) -> Any:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None  # not JSON: the app answers 400 for it
        if isinstance(body, dict):
            claimed = body.get("tenant")
            if claimed is None:
                body["tenant"] = tenant
                raw = json.dumps(body).encode()
            elif claimed != tenant:
                raise self._refuse(403, "tenant_mismatch", "the body's tenant is not the API key's tenant",
                                   "tenant_mismatch")
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        return replay

    async def _own_jobs_only(self, tenant: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        held: list[dict[str, Any]] = []

        async def hold(message: dict[str, Any]) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        if start["status"] == 200:
            try:
                owner = json.loads(body).get("tenant")
            except (ValueError, AttributeError):
                owner = None
            if owner != tenant:
                self.rejections.labels("job_of_other_tenant").inc()
                job_id = scope["path"].rsplit("/", 1)[-1]
                raise ApiError(404, "not_found", f"no job {job_id!r}")
        for message in held:
            await send(message)


def install_auth(app: Any, registry: CollectorRegistry, env: Mapping[str, str] | None = None) -> KeyTable | None:
    """Add the middleware innermost (inside the request-id and body-limit layers) when keys are set."""
    from starlette.middleware import Middleware

    keys = load_keys(env)
    if keys is not None:
        app.user_middleware.append(Middleware(AuthMiddleware, keys=keys, registry=registry))
    app.state.auth = keys
    return keys
