"""Test helpers: workers on random task queues, HTTP servers in the test's loop, factories."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from cli.demo_population import DemoClient
from core.contracts.messages import QUERY_STATE, client_workflow_id
from core.contracts.state import ClientStateView
from core.domain.uplift import Episode
from core.runtime.codec import EncryptionCodec, codec_from_settings
from core.runtime.settings import SecuritySettings

# The tests' payload-encryption key: every Temporal client in the tests (dev server,
# time-skipping server, API, worker, subprocesses, replayer) encrypts with it. Fixed, so a
# history recorded in a test and committed for replay tests stays decodable. Test-only.
TEST_CODEC_KEY_ID = "test-1"
TEST_CODEC_KEYS = (
    f"{TEST_CODEC_KEY_ID}:{base64.b64encode(hashlib.sha256(b'rekindle test key').digest()).decode()}"
)
# Long enough for the production entry points (core/runtime/startup.py), which refuse the dev defaults.
TEST_SESSION_SECRET = "test-session-secret-not-for-production-0001"
TEST_UNSUBSCRIBE_SECRET = "test-unsubscribe-secret-not-for-production-01"
TEST_SUPPRESSION_HASH_SECRET = "test-suppression-hash-secret-not-for-production"
TEST_SECURITY = SecuritySettings(
    codec_keys=SecretStr(TEST_CODEC_KEYS),
    codec_active_key_id=TEST_CODEC_KEY_ID,
    session_secret=SecretStr(TEST_SESSION_SECRET),
    unsubscribe_secret=SecretStr(TEST_UNSUBSCRIBE_SECRET),
    suppression_hash_secret=SecretStr(TEST_SUPPRESSION_HASH_SECRET),
)
# What a subprocess running ``rekindle api``/``worker`` needs besides the codec keys.
PRODUCTION_TEST_ENV = {
    "REKINDLE_SECURITY__SESSION_SECRET": TEST_SESSION_SECRET,
    "REKINDLE_SECURITY__UNSUBSCRIBE_SECRET": TEST_UNSUBSCRIBE_SECRET,
    "REKINDLE_SECURITY__SUPPRESSION_HASH_SECRET": TEST_SUPPRESSION_HASH_SECRET,
    "REKINDLE_SMTP__POSTAL_ADDRESS": "Rekindle Test Ltd, 1 Test Street, Testville",
}


def session_codec() -> EncryptionCodec:
    """The codec every test client uses (the session's key)."""
    codec = codec_from_settings(TEST_SECURITY)
    assert codec is not None
    return codec


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


_PORTS_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never one this process was given before.

    The kernel hands a just-closed ephemeral port out again, so two calls in a row can return the
    same number (CI once gave the dev stack's UI and SMTP sink both 45027); remembering them
    keeps the ports of one test distinct.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _PORTS_HANDED_OUT:
            _PORTS_HANDED_OUT.add(port)
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


async def client_quiet(client: Client, client_id: str) -> bool:
    """No activity and no workflow task pending: the client's workflow waits on a timer or a
    message (the dev server reports the pending workflow task; the time-skipping one does not)."""
    described = await client.get_workflow_handle(client_workflow_id(client_id)).describe()
    raw = described.raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


def demo_episodes(population: Sequence[DemoClient]) -> list[Episode]:
    """The uplift episodes a seeded demo population gives once all its orders are recorded."""
    episodes = []
    for client in population:
        if client.episode is not None:
            later = [o.placed_at for o in client.orders if o.placed_at > client.episode.drafted_at]
            episodes.append(Episode(client.episode.arm, client.episode.drafted_at, min(later, default=None)))
    return episodes


def unique_id(prefix: str) -> str:
    """Ids that never collide across tests sharing one Temporal server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def orders_recorded(temporal: Client, client_id: str, count: int) -> bool:
    """Whether the client's workflow has recorded ``count`` orders (for ``eventually``)."""
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    state: ClientStateView = await handle.query(QUERY_STATE, result_type=ClientStateView)
    return state.order_count == count


def wire_payload(payload: Any) -> dict[str, Any]:
    """A payload in the remote codec protocol's JSON form."""
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def truncate_all(url: str) -> None:
    """Empty every table of a PostgreSQL test database (after a test that shared it)."""
    from sqlalchemy import create_engine, text

    from core.store.models import Base

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
