"""The API-key file format: ``key=tenant`` pairs, inline or one a line in a file.

The reference app reads it to authenticate callers (ragchaos/reference_app/auth.py) and the scenario
runner reads the same variables to send each tenant's key (ragchaos/scenarios/tenantkeys.py), so one
file configures both sides. Error messages never echo a line: it holds a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ragchaos.kit.schemas import IDENT

__all__ = ["AuthConfigError", "load_pairs"]

_TENANT = re.compile(IDENT)


class AuthConfigError(ValueError):
    """The key configuration cannot be read; the message names where, never the key."""


def _parse_line(line: str, where: str) -> tuple[str, str] | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    key, sep, tenant = line.partition("=") if "=" in line else line.partition(" ")
    key, tenant = key.strip(), tenant.strip()
    if not sep or not key or not _TENANT.match(tenant):
        # never echo the line: it holds a secret
        raise AuthConfigError(f"{where}: expected 'key=tenant' with a valid tenant name")
    return key, tenant


def load_pairs(env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(key, tenant) pairs from ``RAGCHAOS_AUTH_KEYS`` and ``RAGCHAOS_AUTH_KEYS_FILE``; [] when unset.

    The scenario runner reads the same variables to send each tenant's key (ragchaos/scenarios/tenantkeys.py)."""
    env = os.environ if env is None else env
    pairs: list[tuple[str, str]] = []
    inline = env.get("RAGCHAOS_AUTH_KEYS", "")
    for i, item in enumerate(p for p in inline.split(",") if p.strip()):
        parsed = _parse_line(item, f"RAGCHAOS_AUTH_KEYS item {i + 1}")
        if parsed:
            pairs.append(parsed)
    path = env.get("RAGCHAOS_AUTH_KEYS_FILE")
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise AuthConfigError(f"RAGCHAOS_AUTH_KEYS_FILE {path}: {exc.strerror}") from None
        for n, line in enumerate(text.splitlines(), 1):
            parsed = _parse_line(line, f"{path}:{n}")
            if parsed:
                pairs.append(parsed)
    if not pairs and (inline or path):
        raise AuthConfigError("authentication is configured but no keys were found")
    return pairs
