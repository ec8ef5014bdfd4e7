"""Property-based fuzzing of a service's OpenAPI schema with schemathesis, against a live process.

``fuzz(schema, base_url, cases=N)`` draws N cases (valid and schema-violating mixed, derandomized
so every run sends the same ones), sends them to the running service and checks: no server
error (a 5xx other than the documented dependency answers), the status code is one the schema
documents, the content type and the body match the schema for that status. It returns what it
saw, so a test can assert on the count.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

__all__ = ["FuzzResult", "fuzz", "is_server_error"]

# a dependency failing is a documented 502/503 (docs/apps.md), not a crash of the service itself
DEPENDENCY_ERRORS = frozenset({"provider_error", "vectordb_error", "dependency_unavailable", "overloaded"})


@dataclass
class FuzzResult:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # and schema violations


def is_server_error(status: int, body: bytes) -> bool:
    if status < 500:
        return False
    if status in (502, 503):
        try:
            return json.loads(body)["error"]["type"] not in DEPENDENCY_ERRORS
        except (ValueError, KeyError, TypeError):
            return True
    return True


def fuzz(schema: schemathesis.schemas.BaseSchema, base_url: str, *, cases: int, workers: int = 16,
         headers: dict[str, str] | None = None) -> FuzzResult:
    """Send ``cases`` generated requests; raise on the first schema violation, count server errors.

    Hypothesis draws every case first (derandomized: the same sequence in every run, so CI is
    reproducible), then ``workers`` threads send them; the services are I/O-bound, so this keeps
    a thousand cases within a CI budget. Shrinking is given up for that; a failure names the case.
    """
    result = FuzzResult()
    drawn: list[schemathesis.Case] = []
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=cases, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def draw(case: schemathesis.Case) -> None:
        drawn.append(case)

    draw()
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    local = threading.local()
    lock = threading.Lock()

    def send(case: schemathesis.Case) -> str | None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = case.call(base_url=base_url, session=local.session, headers=headers, timeout=60)
        with lock:
            result.cases += 1
            result.operations[f"{case.operation.method.upper()} {case.operation.path}"] += 1
            result.statuses[response.status_code] += 1
        if is_server_error(response.status_code, response.content):
            return (f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                    f"{response.status_code} {response.content[:200]!r}")
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except Exception as exc:  # a schema violation: reported with the case, all of them
            return f"{case.method} {case.formatted_path} {case.body!r:.200}: {exc}"[:2000]
        return None

    with ThreadPoolExecutor(workers) as pool:
        for problem in pool.map(send, drawn):
            if problem is not None:
                result.server_errors.append(problem)
    return result
