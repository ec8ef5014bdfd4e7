"""Seed the apps with a scenario's corpus before Locust starts (compose.yaml, service ``seed``).

Plain ``locust -f ragchaos/scenarios/locustfile.py`` does not seed (``ragchaos run`` and ``ragchaos up``
do), so compose runs this once, between the apps being healthy and Locust starting. It reads
the same variables as the locustfile: ``RAGCHAOS_SCENARIO`` and ``RAGCHAOS_<APP>_URL``.

Each app's host name is resolved once: a service name with several replicas then means one
replica for the whole seeding, so every ``GET /v1/jobs/{id}`` goes to the replica that
accepted the job (the vector store is shared, so one replica indexes for all of them).

    RAGCHAOS_SCENARIO=smoke RAGCHAOS_NAIVE_URL=http://127.0.0.1:8080 python deploy/seed.py
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from ragchaos.scenarios.loader import ScenarioError, load_scenario
from ragchaos.scenarios.requests import Workbench
from ragchaos.scenarios.schema import KNOWN_APPS
from ragchaos.scenarios.seed import SeedError, seed_app


def pin(url: str) -> str:
    """``url`` with its host name replaced by one of its addresses (see the module docstring)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    address = socket.gethostbyname(parts.hostname)
    netloc = address if parts.port is None else f"{address}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def main(env: Mapping[str, str]) -> int:
    name = env.get("RAGCHAOS_SCENARIO", "smoke")
    urls = {app: env[f"RAGCHAOS_{app.upper()}_URL"] for app in KNOWN_APPS if env.get(f"RAGCHAOS_{app.upper()}_URL")}
    if not urls:
        print("seed: error: set RAGCHAOS_NAIVE_URL and/or RAGCHAOS_REFERENCE_URL", file=sys.stderr)
        return 2
    try:
        documents = Workbench(load_scenario(name)).corpus.documents
    except ScenarioError as exc:
        print(f"seed: error: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    for app, url in urls.items():
        started = time.monotonic()
        try:
            url = pin(url)
            n = seed_app(url, documents, timeout_s=300.0)
        except OSError as exc:
            print(f"seed: error: {app} at {url}: {exc}", file=sys.stderr)
            return 1
        except SeedError as exc:
            print(f"seed: error: {app} at {url}: {exc}", file=sys.stderr)
            return 1
        print(f"seed: {n} documents of {name} into {app} ({url}) in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
