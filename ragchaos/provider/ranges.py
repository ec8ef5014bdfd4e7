"""The numeric parameters of a chat request, checked as OpenAI checks them: 400, never ignored.

Out of range is ``invalid_request_error`` naming the parameter, with OpenAI's wording and codes
(``decimal_above_max_value``, ``decimal_below_min_value``, ``integer_below_min_value``, ...); a
wrong type is ``invalid_type``. ``null`` means "not given", as in the real API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ragchaos.provider.errors import bad_request

__all__ = ["CHAT_RANGES", "Range", "check_ranges"]


@dataclass(frozen=True)
class Range:
    name: str
    low: float
    high: float | None
    integer: bool = False

    def check(self, value: Any) -> None:
        kind = "integer" if self.integer else "decimal"
        numeric = isinstance(value, int) and not isinstance(value, bool)
        if not self.integer:
            numeric = numeric or (isinstance(value, float) and math.isfinite(value))
        if not numeric:
            got = "a boolean" if isinstance(value, bool) else "a string" if isinstance(value, str) else \
                "an array" if isinstance(value, list) else "an object" if isinstance(value, dict) else "a number"
            raise bad_request(f"Invalid type for '{self.name}': expected {'an' if self.integer else 'a'} {kind}, "
                              f"but got {got} instead.", self.name, "invalid_type")
        if value < self.low:
            raise bad_request(f"Invalid '{self.name}': {kind} below minimum value. Expected a value >= {self.low:g}, "
                              f"but got {value} instead.", self.name, f"{kind}_below_min_value")
        if self.high is not None and value > self.high:
            raise bad_request(f"Invalid '{self.name}': {kind} above maximum value. Expected a value <= {self.high:g}, "
                              f"but got {value} instead.", self.name, f"{kind}_above_max_value")


CHAT_RANGES = (
    Range("temperature", 0, 2),
    Range("top_p", 0, 1),
    Range("presence_penalty", -2, 2),
    Range("frequency_penalty", -2, 2),
    Range("top_logprobs", 0, 20, integer=True),
    Range("seed", -(2**63), 2**63 - 1, integer=True),
)


def check_ranges(body: dict[str, Any], ranges: tuple[Range, ...] = CHAT_RANGES) -> None:
    for r in ranges:
        value = body.get(r.name)
        if value is not None:
            r.check(value)
