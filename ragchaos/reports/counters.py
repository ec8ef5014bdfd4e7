"""Reading the per-phase Prometheus counter deltas of results.json.

The runner stores them as ``{'name{label="v",other="w"}': value}`` (``name`` alone when there
are no labels), the way Prometheus prints a sample. ``Counters`` sums and groups them by label
without caring about label order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["Counters", "parse_key"]

_KEY = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    """``'ragchaos_retries_total{reason="429"}'`` -> ``("ragchaos_retries_total", {"reason": "429"})``."""
    match = _KEY.match(key.strip())
    if not match:
        raise ValueError(f"not a Prometheus sample name: {key!r}")
    name, body = match.group(1), match.group(2) or ""
    labels = {m.group(1): m.group(2).replace('\\"', '"').replace("\\\\", "\\") for m in _LABEL.finditer(body)}
    return name, labels


class Counters:
    """Parsed samples with ``total`` and ``by`` helpers; unknown names read as absent (None)."""

    def __init__(self, samples: Mapping[str, float] | Iterable[tuple[str, float]]) -> None:
        items = samples.items() if isinstance(samples, Mapping) else samples
        self._samples: list[tuple[str, dict[str, str], float]] = []
        for key, value in items:
            try:
                name, labels = parse_key(key)
            except ValueError:
                continue  # a sample we cannot read is not ours to judge
            self._samples.append((name, labels, float(value)))

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self._samples)

    def speaks(self, prefix: str = "ragchaos_") -> bool:
        """Whether the app reports the mechanism metric set at all (any sample with the prefix)."""
        return any(n.startswith(prefix) for n, _, _ in self._samples)

    def count(self, name: str, **match: str) -> float | None:
        """``total``, but 0 for a metric the app does not show while it shows the others: a
        labelled Prometheus counter has no sample until its first increment, so absent means
        "never happened" for an app that speaks the metric set, and "unknown" for one that does not."""
        total = self.total(name, **match)
        if total is None and self.speaks():
            return 0.0
        return total

    def total(self, name: str, **match: str) -> float | None:
        """Sum of ``name`` over samples whose labels include ``match``; None if ``name`` is absent."""
        found = False
        total = 0.0
        for n, labels, value in self._samples:
            if n != name:
                continue
            found = True
            if all(labels.get(k) == v for k, v in match.items()):
                total += value
        return total if found else None

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """``name`` summed per value of ``label`` (samples without the label are skipped)."""
        out: dict[str, float] = {}
        for n, labels, value in self._samples:
            if n == name and label in labels and all(labels.get(k) == v for k, v in match.items()):
                out[labels[label]] = out.get(labels[label], 0.0) + value
        return out

    def by_labels(self, name: str, *labels: str) -> dict[tuple[str, ...], float]:
        out: dict[tuple[str, ...], float] = {}
        for n, lab, value in self._samples:
            if n == name:
                key = tuple(lab.get(x, "") for x in labels)
                out[key] = out.get(key, 0.0) + value
        return out
