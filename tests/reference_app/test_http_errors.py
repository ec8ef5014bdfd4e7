"""The one mapping of the reference app's own errors to HTTP answers (http_errors.py)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ragchaos.kit.errors import install_error_handlers
from ragchaos.reference_app.admission import Overloaded
from ragchaos.reference_app.breaker import BreakerOpen
from ragchaos.reference_app.bulkhead import BulkheadFull
from ragchaos.reference_app.deadline import DeadlineExceeded
from ragchaos.reference_app.errors import ReferenceAppError
from ragchaos.reference_app.http_errors import api_error, install_error_mapping
from ragchaos.reference_app.pacing import PaceTimeout
from ragchaos.reference_app.quotas import QuotaExceeded
from ragchaos.reference_app.resilience import DependencyUnavailable
from ragchaos.reference_app.retries import GaveUp


def test_every_mechanism_error_has_the_one_root() -> None:
    for exc in (QuotaExceeded("t", 1), Overloaded("busy", 1), BreakerOpen("chat", "open", 1),
                BulkheadFull("chat", 4, 1), DeadlineExceeded(), PaceTimeout(2), GaveUp("deadline", None),
                DependencyUnavailable("chat", "breaker_open")):
        assert isinstance(exc, ReferenceAppError)


def test_the_answers_a_client_sees() -> None:
    quota = api_error(QuotaExceeded("acme", 0.2))
    assert quota is not None and (quota.status, quota.type, quota.headers) == (429, "quota_exceeded", {"Retry-After": "1"})
    busy = api_error(Overloaded("in_flight", 2.5))
    assert busy is not None and (busy.status, busy.type, busy.headers) == (503, "overloaded", {"Retry-After": "3"})
    dep = api_error(DependencyUnavailable("chat", "breaker_open", 4.2))
    assert dep is not None and (dep.status, dep.type) == (503, "dependency_unavailable")
    assert dep.headers == {"Retry-After": "5", "X-Degraded": "chat_unavailable"}
    assert api_error(BulkheadFull("chat", 4, 1)) is None  # a guard's internal signal, never an answer


def test_installed_on_an_app_an_escaped_internal_signal_is_a_json_500_not_a_traceback() -> None:
    app = FastAPI()
    install_error_handlers(app)
    install_error_mapping(app)

    @app.get("/quota")
    async def quota() -> None:
        raise QuotaExceeded("acme", 0.5)

    @app.get("/internal")
    async def internal() -> None:
        await asyncio.sleep(0)
        raise PaceTimeout(3.0)

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/quota")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert r.json() == {"error": {"type": "quota_exceeded", "message": "tenant 'acme' is over its request quota"}}
        r = client.get("/internal")
        assert r.status_code == 500 and r.json()["error"]["type"] == "internal_error"
