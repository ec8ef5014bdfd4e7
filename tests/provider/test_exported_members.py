"""Every provider module declares a sorted, complete ``__all__`` (the httpx convention)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["app", "chat", "cli", "config", "control", "embeddings", "errors", "faults", "grounding", "http", "latency",
           "ratelimit", "server", "stats", "text", "vectors"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(f"ragchaos.provider.{name}")
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(module, n) for n in exported)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
              and getattr(v, "__module__", None) == module.__name__}
    assert public <= set(exported)
