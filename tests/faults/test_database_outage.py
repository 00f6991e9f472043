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

from core import migrate
from tests.fakes.smtp import smtp_server
from tests.faults.conftest import fault_settings, serve_api
from tests.faults.processes import postgres_cluster, worker_process
from tests.faults.scenario import (
    Population,
    check_invariants,
    enroll,
    retried_activities,
    stream_orders,
    wait_settled,
)
from tests.helpers import unique_id

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
                await stream_orders(api.http, pop)
                await asyncio.sleep(1.0)  # the workflows are recording, scoring and drafting now
                await asyncio.to_thread(pg.stop)
                await asyncio.sleep(OUTAGE)
                await asyncio.to_thread(pg.start)
                await wait_settled(api.sessions, pop, within=180)
            outcome = await check_invariants(api.sessions, dev_client, smtp.received, pop)
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
