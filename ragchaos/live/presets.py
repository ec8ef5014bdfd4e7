"""The fault buttons: one preset per button, registered by name, each a fault kind of the faults part.

A preset is what a presenter can press without typing numbers: a label, the dependency it hits
and the ``FaultSpec`` (the same models a scenario file uses, so a button and a scenario step
are applied by the same appliers). The strengths are chosen to show a difference, not to
flatten both apps: e.g. the 429 storm answers 80% of chat calls with 429, with a short
Retry-After that the SDK and the reference app both honour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from ragchaos.core.registry import Registry
from ragchaos.faults.kinds import FaultSpec

__all__ = ["PRESETS", "Preset", "get_preset", "preset_names", "register_preset"]

_SPEC: TypeAdapter[Any] = TypeAdapter(FaultSpec)


@dataclass(frozen=True)
class Preset:
    name: str
    label: str  # the button's text
    dependency: str  # provider | vectordb
    fault: Any  # a FaultSpec model
    explain: str  # one sentence for the notes when it is applied

    def describe(self) -> str:
        return f"{self.label}: {self.fault.describe()} on {self.dependency}"


PRESETS: Registry[Preset] = Registry("fault preset")


def register_preset(name: str, label: str, dependency: str, fault: dict[str, Any], explain: str) -> Preset:
    if name in PRESETS:
        raise ValueError(f"fault preset {name!r} registered twice")
    preset = Preset(name, label, dependency, _SPEC.validate_python(fault), explain)
    problems = preset.fault.validate()
    if problems:
        raise ValueError(f"fault preset {name!r}: {'; '.join(problems)}")
    return PRESETS.add(name, preset)


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown fault {name!r}{hint}; known: {', '.join(PRESETS)}") from None


# the chat endpoint, as a tokens-per-minute limit does (embeddings have a budget of their own):
# 80% of chat calls answered 429. Three attempts (the SDK's default) still fail half the
# time; four with a retrieval-only answer to fall back on (the reference app) fail none.
register_preset(
    "provider_429_storm", "429 storm", "provider",
    {"kind": "rate_limit", "endpoint": "chat", "rate": 0.8, "retry_after_s": 0.5},
    "the provider answers 429 to 80% of chat calls (Retry-After 0.5 s)",
)
register_preset(
    "provider_latency", "provider slow", "provider",
    {"kind": "latency", "latency_ms": 1500, "jitter_ms": 300},
    "every provider call takes 1.5 s longer",
)
register_preset(
    "provider_resets", "connection resets", "provider",
    {"kind": "reset_peer", "timeout_ms": 0, "toxicity": 0.2},
    "one provider connection in five is reset",
)
register_preset(
    "vectordb_slow", "vector store slow", "vectordb",
    {"kind": "latency", "latency_ms": 1500, "jitter_ms": 300},
    "every vector-store call takes 1.5 s longer",
)
register_preset(
    "vectordb_down", "vector store down", "vectordb",
    {"kind": "down"},
    "the vector store refuses every connection",
)
