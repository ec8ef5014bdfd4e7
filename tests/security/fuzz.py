"""Property-based fuzzing of a service's OpenAPI schema with schemathesis, against a live process.

``fuzz(schema, base_url, cases=N)`` draws N cases (half valid, half schema-violating) with a fixed
seed, sends each to the running service and checks: no server error (a 5xx other than the
documented dependency answers), the status code is one the schema documents, and the body
matches the schema for that status. It returns what it saw, so a test can assert on the count.
"""

from __future__ import annotations

import json
from collections import Counter
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
    server_errors: list[str] = field(default_factory=list)


def is_server_error(status: int, body: bytes) -> bool:
    if status < 500:
        return False
    if status in (502, 503):
        try:
            return json.loads(body)["error"]["type"] not in DEPENDENCY_ERRORS
        except (ValueError, KeyError, TypeError):
            return True
    return True


def fuzz(schema: schemathesis.schemas.BaseSchema, base_url: str, *, cases: int, seed: int = 8,
         headers: dict[str, str] | None = None) -> FuzzResult:
    """Send ``cases`` generated requests; raise on the first schema violation, count server errors."""
    result = FuzzResult()
    session = requests.Session()
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]

    @settings(max_examples=cases, derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        result.cases += 1
        result.operations[f"{case.operation.method.upper()} {case.operation.path}"] += 1
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        result.statuses[response.status_code] += 1
        if is_server_error(response.status_code, response.content):
            result.server_errors.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                        f"{response.status_code} {response.content[:200]!r}")
            return
        case.validate_response(response, checks=checks, headers=headers)

    del seed  # derandomize=True makes the sequence a function of the test alone: reproducible in CI
    run()
    return result
