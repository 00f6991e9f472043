"""SMTP refuses connections and the LLM times out, then both come back: every email is drafted
by the LLM after Temporal's retries and sent exactly once (no crash, so no unknown outcome).

Each outage ends when the workload has met it, not at a fixed time: the LLM times out until
several draft attempts have failed, and SMTP refuses until a send has been refused and
rescheduled. A slow or loaded machine (drafting starting late) then meets both outages just as
a fast one does; a fixed 20 s window once closed before the first draft on a quiet machine."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.store.models import Email, EmailEvent
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.smtp import smtp_server
from tests.faults.conftest import fault_settings, serve_api
from tests.faults.processes import worker_process
from tests.faults.scenario import Population, check_invariants, enroll, stream_orders, wait_settled
from tests.helpers import eventually, free_port, serve_app, unique_id

pytestmark = [pytest.mark.fault, pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]
log = logging.getLogger(__name__)
CLIENTS = 40
LLM_TIMEOUTS = 5  # draft attempts that time out before the LLM comes back
MET_WITHIN = 180.0  # how long the workload may take to reach an outage


async def test_smtp_and_llm_outages_end_in_one_send_each(
    dev_client: Client, fault_db_url: str, tmp_path: Path
) -> None:
    pop = Population(unique_id("outage"), CLIENTS)
    llm = FakeOpenAI(default="slow", slow_seconds=3.0)  # slower than the drafter's timeout
    smtp_port = free_port()  # nothing listens yet: connection refused
    settings = fault_settings(fault_db_url, dev_client.service_client.config.target_host, smtp_port)
    async with serve_app(llm.app) as llm_url, serve_api(settings, dev_client) as api:
        llm_env = {
            "REKINDLE_LLM__BASE_URL": f"{llm_url}/v1",
            "REKINDLE_LLM__API_KEY": "test-key",
            "REKINDLE_LLM__TIMEOUT_SECONDS": "1",
        }
        with worker_process(settings, tmp_path / "worker.log", **llm_env):
            await enroll(api.http, pop, api.unsubscribe_secret)
            await stream_orders(api.http, pop)
            await eventually(lambda: len(llm.requests) >= LLM_TIMEOUTS, timeout=MET_WITHIN)
            timeouts = len(llm.requests)
            llm.default = "good"
            await eventually(lambda: _refused_sends(api.sessions, pop.prefix), timeout=MET_WITHIN)
            with smtp_server(port=smtp_port) as smtp:
                await wait_settled(api.sessions, pop, within=180)
                outcome = await check_invariants(api.sessions, dev_client, smtp.received, pop)
        async with api.sessions() as session:
            generators = set(
                (
                    await session.scalars(
                        select(Email.generator).where(Email.client_id.startswith(pop.prefix))
                    )
                ).all()
            )
        refused = await _refused_sends(api.sessions, pop.prefix)
    log.info(
        "outage outcome: %s, %d LLM timeouts, %s refused sends, generators %s",
        outcome.statuses,
        timeouts,
        refused,
        generators,
    )
    assert timeouts > 0, "the LLM outage was never met"
    assert refused, "the SMTP outage was never met"
    assert generators == {"llm"}  # timeouts are retried by Temporal, not papered over by templates
    assert outcome.unknown == 0
    assert outcome.statuses["sent"] == outcome.messages == len(pop.emailed)


async def _refused_sends(sessions: async_sessionmaker[AsyncSession], prefix: str) -> int:
    """How many sends of this population SMTP refused (each one rescheduled, none lost)."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count(EmailEvent.id)).where(
                EmailEvent.client_id.startswith(prefix), EmailEvent.kind == "send_retry"
            )
        )
    return count or 0
