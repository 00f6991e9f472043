"""Graceful shutdown: SIGTERM drains the worker (the activity in flight completes) and the API
(the request in flight is answered)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.testing import WorkflowEnvironment

from core.contracts.messages import (
    ACTIVITY_RECORD_ORDER,
    SIGNAL_ORDER_PLACED,
    OrderPlaced,
    client_workflow_id,
)
from core.runtime.client_workflow import signal_with_start
from core.runtime.settings import DatabaseSettings, Settings
from core.runtime.workflow_config import WorkflowStart
from tests.helpers import (
    PRODUCTION_TEST_ENV,
    TEST_CODEC_KEY_ID,
    TEST_CODEC_KEYS,
    client_quiet,
    eventually,
    free_port,
    order_body,
    unique_id,
)

# Subprocesses start slowly on a loaded 2-core machine: generous readiness waits and timeouts.
pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]
READY_SECONDS = 120
ROOT = Path(__file__).resolve().parents[2]
REKINDLE = str(Path(sys.executable).parent / "rekindle")


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_SECURITY__CODEC_KEYS": TEST_CODEC_KEYS,
            "REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID": TEST_CODEC_KEY_ID,
            "REKINDLE_LOGGING__FORMAT": "json",
            **PRODUCTION_TEST_ENV,
            **values,
        }
    )
    return env


def _spawn(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Output goes to `log`: a pipe nobody reads until the end fills up and stalls a chatty
    process (its next log line blocks, and with it the activity that logs)."""
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    process.wait(timeout=timeout)
    return log.read_text(errors="replace")


async def _activity_running(env: WorkflowEnvironment, workflow_id: str, activity_type: str) -> bool:
    described = await env.client.get_workflow_handle(workflow_id).describe()
    pending = described.raw_description.pending_activities
    started = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    return any(p.state == started and p.activity_type.name == activity_type for p in pending)


async def test_shutdown_sigterm_drains_the_worker(
    dev_env: WorkflowEnvironment, sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "drain.db"
    shutil.copy(sqlite_template, db)
    metrics_port = free_port()
    queue = unique_id("drain")
    settings = Settings(_env_file=None).model_copy(
        update={"database": DatabaseSettings(url=f"sqlite+aiosqlite:///{db}")}
    )
    settings.temporal.task_queue = queue
    worker_log = tmp_path / "worker.log"
    worker = _spawn(
        [REKINDLE, "worker"],
        tmp_path,
        _env(
            REKINDLE_DATABASE__URL=settings.database.url,
            REKINDLE_TEMPORAL__ADDRESS=dev_env.client.service_client.config.target_host,
            REKINDLE_TEMPORAL__TASK_QUEUE=queue,
            REKINDLE_TEMPORAL__SEND_TASK_QUEUE=f"{queue}-send",
            REKINDLE_TEMPORAL__LLM_TASK_QUEUE=f"{queue}-llm",
            REKINDLE_WORKER__METRICS_PORT=str(metrics_port),
        ),
        worker_log,
    )
    lock = sqlite3.connect(db, timeout=1, isolation_level=None)
    lock.execute("PRAGMA journal_mode=WAL")  # as the app leaves it; switching modes would not wait
    try:
        # Polling has begun once the SDK reports the worker; its metrics come through the worker's port.
        metrics = await eventually(
            lambda: _metrics_with(metrics_port, "temporal_worker_start"), timeout=READY_SECONDS
        )
        assert "rekindle_orders_recorded" in metrics
        cid = unique_id("drain")
        workflow_id = client_workflow_id(cid)
        start = WorkflowStart.from_settings(settings)
        # The first order starts the run (it loads the client's facts, records, rescores);
        # once the run is quiet, the second order's first step is the write, which waits.
        # Orders from today: an active client, so nothing is drafted in between.
        today = datetime.now(UTC).isoformat()
        first = OrderPlaced.model_validate(order_body("o-1", placed_at=today))
        await signal_with_start(dev_env.client, start, cid, SIGNAL_ORDER_PLACED, first)
        await eventually(lambda: _orders(db, cid) == 1, timeout=READY_SECONDS)
        await eventually(lambda: client_quiet(dev_env.client, cid), timeout=READY_SECONDS)
        lock.execute("BEGIN IMMEDIATE")  # record_order now waits for the database
        second = OrderPlaced.model_validate(order_body("o-2", placed_at=today))
        await signal_with_start(dev_env.client, start, cid, SIGNAL_ORDER_PLACED, second)
        await eventually(lambda: _activity_running(dev_env, workflow_id, ACTIVITY_RECORD_ORDER), timeout=60)

        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.5)
        assert worker.poll() is None, "the worker left with an activity in flight"
        lock.execute("ROLLBACK")  # the activity can finish now
        out = await asyncio.to_thread(_stop, worker, worker_log)
        assert worker.returncode == 0, out
    finally:
        lock.close()
        _kill(worker)
    assert "worker stopped" in out
    history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
    types = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in types
    assert _orders(db, cid) == 2  # the order in flight at SIGTERM was recorded


def _orders(db: Path, client_id: str) -> int:
    with sqlite3.connect(db, timeout=0.2) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM orders WHERE client_id = ?", (client_id,)).fetchone()
        except sqlite3.OperationalError:  # busy: the worker is writing
            return -1
    return int(row[0])


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Leave nothing running, whatever the test did."""
    if process.poll() is None:
        process.kill()
        process.wait()


def _metrics_with(port: int, name: str) -> str | None:
    text = _get(f"http://127.0.0.1:{port}/metrics")
    return text if text and name in text else None


def _get(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


async def test_shutdown_sigterm_lets_the_api_answer_in_flight_requests(tmp_path: Path) -> None:
    port = free_port()
    api_log = tmp_path / "api.log"
    api = _spawn(
        [sys.executable, "-m", "tests.integration.slow_api"],
        ROOT,
        _env(
            REKINDLE_API__PORT=str(port),
            REKINDLE_DATABASE__URL=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
            SLOW_SECONDS="2",
        ),
        api_log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _get(f"{base}/healthz"), timeout=READY_SECONDS)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            in_flight = asyncio.create_task(http.get("/slow"))
            await asyncio.sleep(0.5)
            api.send_signal(signal.SIGTERM)
            response = await in_flight
        assert response.status_code == 200
        assert response.json() == {"status": "finished"}
        out = await asyncio.to_thread(_stop, api, api_log)
        assert api.returncode == 0, out
        assert _get(f"{base}/healthz") is None  # no longer listening
    finally:
        _kill(api)
