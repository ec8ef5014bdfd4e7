"""Without call timing at the proxy, a service without spans has no stage times."""

from __future__ import annotations

from ragchaos.reports.observations.base import Observation, register
from ragchaos.reports.results import RunResult


@register("proxy_not_measured")
class ProxyNotMeasured:
    def __call__(self, result: RunResult) -> list[Observation]:
        info = result.run.proxy_calls
        if info is None or info.measured:
            return []
        return [Observation("proxy_not_measured",
                            text="Dependency calls were not timed at the fault proxy, so stage times come only from "
                                 "what the services report themselves. Run with the built-in proxy?",
                            evidence=info.note)]
