"""noop: passes everything through (also what a stub runs when toxicity says no)."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, Toxic, ToxicStub


@register("noop")
class NoopToxic(Toxic):
    go_name = "NoopToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is INTERRUPTED:
                return
            if chunk is None:
                stub.close()
                return
            stub.send(chunk)
