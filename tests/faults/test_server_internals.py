"""White-box checks the API cannot show: connections and stub tasks are released when clients go."""

from __future__ import annotations

import asyncio

from ragchaos.faults.server import ServerSettings, create_server


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _scenario() -> tuple[int, int, int]:
    loop = asyncio.get_running_loop()
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    up_port = upstream.sockets[0].getsockname()[1]
    server = create_server(ServerSettings(port=0), loop)
    proxy = server.proxies.new("leak", "127.0.0.1:0", f"127.0.0.1:{up_port}")
    await server.proxies.add(proxy, True)
    proxy.toxics.add({"type": "latency", "attributes": {"latency": 1}})
    proxy.toxics.add({"type": "slicer", "stream": "upstream", "attributes": {"average_size": 8}})
    port = int(proxy.listen.rsplit(":", 1)[1])
    before = len(asyncio.all_tasks())

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x" * 100)
        await reader.readexactly(100)
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one() for _ in range(30)))
    peak = 0
    for _ in range(100):  # the proxy closes its sides a little after the clients
        peak = max(peak, len(proxy.connections))
        if not proxy.connections:
            break
        await asyncio.sleep(0.02)
    left = len(proxy.connections)
    await asyncio.sleep(0.05)
    tasks_left = len(asyncio.all_tasks()) - before
    await server.close()
    upstream.close()
    return left, tasks_left, peak


def test_connections_and_stub_tasks_are_released():
    left, tasks_left, _ = asyncio.run(_scenario())
    assert left == 0
    assert tasks_left <= 0  # no stub or dial task outlives its connection
