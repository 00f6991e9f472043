"""The Temporal dev server (state in a SQLite file) is stopped and started again while orders
stream in: the ingesting client retries every order answered 503 (or not answered at all),
the worker reconnects, and every workflow carries on where it was."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from temporalio.client import Client

from core.runtime.temporal import data_converter
from tests.fakes.smtp import smtp_server
from tests.faults.conftest import fault_settings, serve_api
from tests.faults.processes import TemporalServer, worker_process
from tests.faults.scenario import (
    ORDERS_PER_CLIENT,
    Population,
    check_invariants,
    enroll,
    recorded_orders,
    stream_orders,
    wait_settled,
)
from tests.helpers import eventually, session_codec, unique_id

pytestmark = [pytest.mark.fault, pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]
log = logging.getLogger(__name__)
CLIENTS = 60
DOWN = 8.0


async def _connect(address: str, within: float = 90) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await Client.connect(address, data_converter=data_converter(session_codec()))
        except RuntimeError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_temporal_restarted_while_orders_stream_in(fault_db_url: str, tmp_path: Path) -> None:
    server = TemporalServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    try:
        temporal = await _connect(server.address)
        pop = Population(unique_id("restart"), CLIENTS)
        with smtp_server() as smtp:
            settings = fault_settings(fault_db_url, server.address, smtp.port)
            async with serve_api(settings, temporal) as api:
                with worker_process(settings, tmp_path / "worker.log") as worker:
                    await enroll(api.http, pop, api.unsubscribe_secret)
                    # Half the orders go in first; the rest wait for the stop, so the server is
                    # down while they arrive however long the worker took to get going.
                    second_half = asyncio.Event()
                    ingest = asyncio.create_task(
                        stream_orders(
                            api.http, pop, within=300, concurrency=4, pause=0.1,
                            hold=second_half, hold_after=CLIENTS * ORDERS_PER_CLIENT // 2,
                        )
                    )  # fmt: skip
                    # The worker is connected and working (a worker cannot start without Temporal).
                    await eventually(lambda: recorded_orders(api.sessions, pop), timeout=120)
                    accepted_before = pop.deliveries
                    server.stop()
                    second_half.set()
                    await asyncio.sleep(DOWN)
                    server.start()
                    await ingest
                    await wait_settled(api.sessions, pop, within=180)
                    assert worker.alive(), "the worker gave up while Temporal was away"
                outcome = await check_invariants(api.sessions, temporal, smtp.received, pop)
    finally:
        server.stop()
    log.info(
        "temporal restart outcome: %s, %d messages, %d/%d posts accepted before the stop",
        outcome.statuses, outcome.messages, accepted_before, pop.deliveries,
    )  # fmt: skip
    assert 0 < accepted_before < pop.deliveries, "the restart did not fall inside the ingest"
    assert outcome.unknown == 0
    assert outcome.statuses["sent"] == outcome.messages == len(pop.emailed)


async def test_worker_started_before_temporal_waits_for_it(fault_db_url: str, tmp_path: Path) -> None:
    """A worker that comes up before its server (a reboot, compose without ordering) neither
    exits nor needs a restart: it says it is waiting, connects when the server is there and
    works through what arrived meanwhile."""
    server = TemporalServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    worker_log = tmp_path / "worker.log"
    pop = Population(unique_id("late"), 6)
    with smtp_server() as smtp:
        settings = fault_settings(fault_db_url, server.address, smtp.port)
        with worker_process(settings, worker_log, REKINDLE_LOGGING__LEVEL="INFO") as worker:
            await eventually(lambda: worker_log.read_text().count("temporal unreachable") >= 2, timeout=30)
            assert worker.alive(), worker_log.read_text()[-2000:]
            server.start()
            try:
                temporal = await _connect(server.address)
                async with serve_api(settings, temporal) as api:
                    await enroll(api.http, pop, api.unsubscribe_secret)
                    await stream_orders(api.http, pop, concurrency=4)
                    await wait_settled(api.sessions, pop, within=120)
                    outcome = await check_invariants(api.sessions, temporal, smtp.received, pop)
            finally:
                server.stop()
    assert outcome.statuses["sent"] == outcome.messages == len(pop.emailed)
    assert '"address": "127.0.0.1:' in worker_log.read_text()  # the log names where it waits
