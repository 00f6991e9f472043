"""The worker is SIGKILLed mid-send and restarted: the message is never delivered twice.

The real worker (``python -m worker``) runs in a subprocess; the SMTP server stalls after
DATA so the kill lands while the message is on the wire. A restarted worker picks up the
retry, finds the ledger row still ``sending`` and marks it ``unknown`` instead of resending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.contracts.emails import SendEmailResult
from core.contracts.messages import ACTIVITY_SEND_EMAIL
from core.runtime.settings import Settings
from tests.activities.factories import add_client, add_email, events, get_email
from tests.fakes.smtp import smtp_server
from tests.fakes.workflows import ActivityCall, ActivityCallWorkflow
from tests.helpers import (
    PRODUCTION_TEST_ENV,
    TEST_CODEC_KEY_ID,
    TEST_CODEC_KEYS,
    eventually,
    new_worker,
    unique_id,
)

pytestmark = [pytest.mark.temporal, pytest.mark.fault, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(
    settings: Settings, temporal: str, smtp_port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "REKINDLE_DATABASE__URL": settings.database.url,
        "REKINDLE_TEMPORAL__ADDRESS": temporal,
        "REKINDLE_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "REKINDLE_TEMPORAL__SEND_TASK_QUEUE": settings.temporal.send_task_queue,
        "REKINDLE_TEMPORAL__LLM_TASK_QUEUE": settings.temporal.llm_task_queue,
        "REKINDLE_SMTP__PORT": str(smtp_port),
        "REKINDLE_SMTP__TIMEOUT_SECONDS": "60",
        "REKINDLE_LOGGING__FORMAT": "json",
        "REKINDLE_SECURITY__CODEC_KEYS": TEST_CODEC_KEYS,
        "REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID": TEST_CODEC_KEY_ID,
        **PRODUCTION_TEST_ENV,
    }
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_send_email_worker_killed_mid_send_never_sends_twice(
    dev_client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="approved")
    temporal = dev_client.service_client.config.target_host
    log = tmp_path / "worker.log"
    with smtp_server("stall") as server:
        async with new_worker(dev_client, workflows=[ActivityCallWorkflow]) as wf_worker:
            call = ActivityCall(
                activity=ACTIVITY_SEND_EMAIL,
                task_queue=settings.temporal.send_task_queue,
                input={"email_id": eid, "client_id": cid},
                start_to_close_seconds=120,
                heartbeat_seconds=3,
                initial_interval_seconds=0.2,
            )
            handle = await dev_client.start_workflow(
                ActivityCallWorkflow.run, call, id=unique_id("wf-crash"), task_queue=wf_worker.task_queue
            )
            with worker_process(settings, temporal, server.port, log) as first:
                await eventually(server.handler.data_started.is_set, timeout=60)
                first.send_signal(signal.SIGKILL)  # mid-send: the message is on the wire
                first.wait()
            assert (await get_email(sessions, eid)).status == "sending"
            server.handler.mode = "accept"  # a resend, if there were one, would be accepted
            server.handler.release()
            with worker_process(settings, temporal, server.port, log):
                raw = await handle.result()
    result = SendEmailResult.model_validate(raw)
    received = len(server.received)
    status = (await get_email(sessions, eid)).status
    assert received <= 1, f"delivered {received} times"
    assert (result.outcome, status) in {("unknown", "unknown"), ("sent", "sent")}
    assert result.outcome == "unknown"  # the stalled attempt never confirmed delivery
    assert received == 1
    assert await events(sessions, eid) == ["sending", "unknown"]
