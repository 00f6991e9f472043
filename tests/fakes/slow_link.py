"""A slow network link: a loopback TCP proxy that caps the bytes per second a client may send.

Tests that must interrupt a fast client mid-way (kill ``rekindle import`` between its first and
last row) put it behind this link instead of racing its speed: the client's progress is then
bounded by the link, not by how busy the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bytes_per_second: float | None
) -> None:
    loop = asyncio.get_running_loop()
    budget_at = loop.time()  # when the bytes sent so far are "paid for" at the capped rate
    try:
        while chunk := await reader.read(4096):
            if bytes_per_second is not None:
                budget_at = max(budget_at, loop.time()) + len(chunk) / bytes_per_second
                await asyncio.sleep(max(0.0, budget_at - loop.time()))
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def slow_link(target_host: str, target_port: int, upload_bytes_per_second: float) -> AsyncIterator[int]:
    """Yield a local port forwarding to the target; client→target traffic is rate-capped."""
    tasks: set[asyncio.Task[None]] = set()

    async def accept(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        for task in (
            asyncio.create_task(_pipe(client_reader, server_writer, upload_bytes_per_second)),
            asyncio.create_task(_pipe(server_reader, client_writer, None)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
