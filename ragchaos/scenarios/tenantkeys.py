"""Each tenant's API key on its requests, for a target with authentication on.

The runner reads the same ``RAGCHAOS_AUTH_KEYS`` / ``RAGCHAOS_AUTH_KEYS_FILE`` the reference app
reads (key=tenant), so one file configures both sides, and every request of a tenant (seeding,
job polls, the load) carries ``Authorization: Bearer <that tenant's key>``. Unset: no header.
The keys stay in this process's memory: they are never written into the run folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from ragchaos.kit.authkeys import load_pairs

__all__ = ["tenant_headers"]


@lru_cache(maxsize=1)
def _keys(inline: str, path: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for key, tenant in load_pairs({"RAGCHAOS_AUTH_KEYS": inline, "RAGCHAOS_AUTH_KEYS_FILE": path}):
        table.setdefault(tenant, key)  # a tenant with several keys: the first one
    return table


def tenant_headers(tenant: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    key = _keys(env.get("RAGCHAOS_AUTH_KEYS", ""), env.get("RAGCHAOS_AUTH_KEYS_FILE", "")).get(tenant)
    return {"Authorization": f"Bearer {key}"} if key else {}
