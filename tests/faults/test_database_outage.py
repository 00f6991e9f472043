"""The database goes away for 30 s while activities write: a throwaway PostgreSQL cluster is
stopped under the worker and started again. Activities retry; nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from temporalio.client import Client

from core.store import migrate
from core.store.datakeys import UNAVAILABLE_MESSAGE
from tests.fakes.smtp import smtp_server
from tests.faults.conftest import fault_settings, serve_api
from tests.faults.processes import postgres_cluster, worker_process
from tests.faults.scenario import (
    ORDERS_PER_CLIENT,
    Population,
    check_invariants,
    enroll,
    recorded_orders,
    retried_activities,
    stream_orders,
    wait_settled,
)
from tests.helpers import eventually, unique_id

pytestmark = [pytest.mark.fault, pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]
log = logging.getLogger(__name__)
CLIENTS = 60
OUTAGE = 30.0


def _create_database(admin_url: str, name: str) -> None:
    engine = create_sync_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


async def test_database_away_30s_while_activities_write(dev_client: Client, tmp_path: Path) -> None:
    pop = Population(unique_id("dbdown"), CLIENTS)
    with postgres_cluster() as pg, smtp_server() as smtp:
        await asyncio.to_thread(_create_database, pg.url(), "rekindle")
        await asyncio.to_thread(migrate.upgrade, pg.url("rekindle"))
        smtp.handler.delay_seconds = 0.2
        settings = fault_settings(pg.url("rekindle"), dev_client.service_client.config.target_host, smtp.port)
        async with serve_api(settings, dev_client) as api:
            with worker_process(settings, tmp_path / "worker.log"):
                await enroll(api.http, pop, api.unsubscribe_secret)
                # Half the orders go in first; the rest wait for the outage. The database goes
                # as soon as the worker has written its first order, so the workflows are
                # recording, scoring and drafting then, however fast or slow the machine is.
                second_half = asyncio.Event()
                ingest = asyncio.create_task(
                    stream_orders(
                        api.http, pop, within=240, hold=second_half,
                        hold_after=CLIENTS * ORDERS_PER_CLIENT // 2,
                    )
                )  # fmt: skip
                await eventually(lambda: recorded_orders(api.sessions, pop), timeout=120)
                await asyncio.to_thread(pg.stop)
                second_half.set()
                await asyncio.sleep(OUTAGE)
                await asyncio.to_thread(pg.start)
                await ingest
                await wait_settled(api.sessions, pop, within=180)
            # A worker that has not yet cached a client's data key cannot encode or decode their
            # payloads while the database is away: those workflow tasks fail and are retried.
            outcome = await check_invariants(
                api.sessions, dev_client, smtp.received, pop, tolerated_task_failure=UNAVAILABLE_MESSAGE
            )
    retried = await retried_activities(dev_client, pop)
    log.info(
        "database outage outcome: %s, %d messages, %d retried activities",
        outcome.statuses,
        outcome.messages,
        retried,
    )
    assert retried > 0, "no activity met the outage"
    # A send whose outcome could not be written stays 'unknown' (delivered at most once).
    assert outcome.statuses["sent"] + outcome.unknown == len(pop.emailed)
