"""limit_data: passes at most ``bytes`` bytes per link, then closes the connection.

The count survives an update (``new_state``) and starts again when the toxic is re-added.
"""

from __future__ import annotations

from typing import Any

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import Chunk, Toxic, ToxicStub, each_chunk


class _Count:
    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0


@register("limit_data")
class LimitDataToxic(Toxic):
    go_name = "LimitDataToxic"
    bytes: int = 0

    def new_state(self) -> Any:
        return _Count()

    async def pipe(self, stub: ToxicStub) -> None:
        count: _Count = stub.state if isinstance(stub.state, _Count) else _Count()

        async def limit(chunk: Chunk) -> bool:
            left = max(self.bytes - count.sent, 0)
            data = chunk.data[:left]
            if data:
                chunk.data = data
                stub.send(chunk)
                count.sent += len(data)
            if self.bytes - count.sent <= 0:
                stub.close()
                return False
            return True

        await each_chunk(stub, limit)
