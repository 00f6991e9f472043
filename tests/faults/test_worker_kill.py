"""The worker is SIGKILLed at random moments while 200 clients are ingested, scored, drafted
and emailed, and started again each time: nothing is lost, nothing doubled."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.fakes.smtp import FakeSmtp, smtp_server
from tests.faults.conftest import fault_settings, serve_api
from tests.faults.processes import worker_process
from tests.faults.scenario import Population, check_invariants, enroll, stream_orders, wait_settled
from tests.helpers import eventually, unique_id

pytestmark = [pytest.mark.fault, pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(420)]
log = logging.getLogger(__name__)
CLIENTS = 200
KILLS = 4
SEED = 20261129


async def test_worker_sigkilled_repeatedly_loses_and_doubles_nothing(
    dev_client: Client, fault_db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    pop = Population(unique_id("kill"), CLIENTS, seed=SEED)
    with smtp_server() as smtp:
        smtp.handler.delay_seconds = 0.2  # each send spends a moment in the unknown window
        settings = fault_settings(fault_db_url, dev_client.service_client.config.target_host, smtp.port)
        async with serve_api(settings, dev_client) as api:
            with worker_process(settings, tmp_path / "worker.log") as worker:
                await enroll(api.http, pop, api.unsubscribe_secret)
                ingest = asyncio.create_task(stream_orders(api.http, pop))
                for _ in range(KILLS // 2):
                    # Wherever the workers happen to be: recording orders, scoring, drafting.
                    await asyncio.sleep(rng.uniform(3, 8))
                    worker.kill()
                    worker.start()
                await ingest
                target = 0
                for _ in range(KILLS - KILLS // 2):
                    # Right as a message reaches the SMTP server, before its reply: the unknown window.
                    target += rng.randint(10, 60)
                    await eventually(_received(smtp, target), timeout=180, interval=0.02)
                    worker.kill()
                    worker.start()
                # Activities of a killed worker are retried once their start-to-close timeout ends.
                await wait_settled(api.sessions, pop, within=240)
            outcome = await check_invariants(api.sessions, dev_client, smtp.received, pop)
    log.info(
        "worker kill outcome: %s, %d messages, %d starts", outcome.statuses, outcome.messages, worker.starts
    )
    assert worker.starts == KILLS + 1
    # A kill in the unknown window leaves every send then in flight 'unknown': never resent.
    assert outcome.unknown >= 1
    assert outcome.statuses["sent"] == len(pop.emailed) - outcome.unknown


def _received(smtp: FakeSmtp, count: int) -> Callable[[], bool]:
    return lambda: len(smtp.received) >= count
