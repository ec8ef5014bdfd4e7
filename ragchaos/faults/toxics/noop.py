"""noop: passes everything through (also what a stub runs when toxicity says no)."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import Chunk, Toxic, ToxicStub, each_chunk


@register("noop")
class NoopToxic(Toxic):
    go_name = "NoopToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        async def forward(chunk: Chunk) -> bool:
            stub.send(chunk)
            return True

        await each_chunk(stub, forward)
