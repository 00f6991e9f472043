"""Test helpers: workers on random task queues, HTTP servers in the test's loop, factories."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker


def random_task_queue() -> str:
    return f"test-{uuid.uuid4()}"


def new_worker(
    client: Client,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    task_queue: str | None = None,
    **kwargs: Any,
) -> Worker:
    """A worker on a random task queue, as in the sdk-python tests."""
    return Worker(
        client,
        task_queue=task_queue or random_task_queue(),
        workflows=workflows,
        activities=activities,
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_app(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app on a real loopback port in this event loop; yield its base URL."""
    port = port or free_port()
    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def order_body(
    order_id: str, placed_at: str = "2026-01-05T10:00:00Z", amount: str = "79.00"
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "placed_at": placed_at,
        "amount": amount,
        "currency": "USD",
        "items": [{"sku": "SKU-1", "category": "knitwear", "kept": True}],
    }


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05) -> Any:  # noqa: ASYNC109
    """Poll an async or sync check until it returns a truthy value or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def unique_id(prefix: str) -> str:
    """Ids that never collide across tests sharing one Temporal server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
