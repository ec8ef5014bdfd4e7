"""reset_peer: on the first chunk (or EOF) wait ``timeout`` ms, then close with an RST (data dropped)."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, Toxic, ToxicStub


@register("reset_peer")
class ResetPeerToxic(Toxic):
    go_name = "ResetToxic"
    timeout: int = 0

    def wants_reset(self) -> bool:
        return True

    async def pipe(self, stub: ToxicStub) -> None:
        chunk = await stub.recv()
        if chunk is INTERRUPTED:
            return
        # interruptible, unlike the real one; an interrupted wait drops the chunk as the reset would
        if not await stub.sleep(self.timeout / 1000.0):
            return
        stub.close()
