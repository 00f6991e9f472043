"""SMTP outages of any length lose nothing (time-skipping server, real activities, real SMTP).

A send that provably reached no SMTP server (connection refused, AUTH refused) stays
``approved`` in the database and is tried again with back-off, for as long as the outage
lasts; once the server is back (or the config is fixed and the worker redeployed) the email
is delivered exactly once, and the workflow and the database agree on every step.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.contracts.state import ClientStateView
from core.runtime.settings import Settings
from tests.activities.factories import add_client
from tests.fakes.smtp import smtp_server
from tests.helpers import free_port
from tests.workflows.conftest import Life
from tests.workflows.pipeline_env import emails_of, go_silent, real_life, real_worker, with_smtp

pytestmark = [pytest.mark.temporal, pytest.mark.fault]


def deferred(state: ClientStateView) -> bool:
    return state.counters.send_deferrals >= 1


def settled(state: ClientStateView) -> bool:
    return state.last_email is not None


async def assert_still_approved(life: Life, cid: str) -> None:
    """Mid-outage: nothing sent, nothing unknown, workflow and database both say approved."""
    state = await life.state(cid)
    assert state.pending_email is not None, state
    assert state.pending_email.status == "approved"
    assert state.last_email is None
    [row] = await emails_of(life.sessions, cid)
    assert (row.id, row.status) == (state.pending_email.email_id, "approved")


async def assert_sent_once(life: Life, cid: str, received: int) -> None:
    state = await life.state(cid)
    assert state.last_email is not None, state
    assert state.last_email.status == "sent"
    assert received == 1
    [row] = await emails_of(life.sessions, cid)
    assert (row.id, row.status) == (state.last_email.email_id, "sent")
    assert (state.counters.sent, state.counters.failed) == (1, 0)


async def test_smtp_down_six_hours_is_delivered_once_after_recovery(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    port = free_port()  # nothing listens yet: every connection is refused
    cid = await add_client(sessions, categories=())
    async with real_life(time_env, sessions) as life, real_worker(life, with_smtp(settings, port)):
        await go_silent(life, cid)
        await life.until(cid, deferred, step=timedelta(days=1), limit=timedelta(days=120))
        for _ in range(6):
            await life.sleep(timedelta(hours=1))
            await assert_still_approved(life, cid)
        with smtp_server(port=port) as server:
            await life.until(cid, settled, step=timedelta(minutes=30), limit=timedelta(days=2))
            await life.sleep(timedelta(days=2))  # and nothing more goes out later
            await assert_sent_once(life, cid, len(server.received))


async def test_smtp_auth_misconfigured_for_a_day_is_delivered_once_when_fixed(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    cid = await add_client(sessions, categories=())
    with smtp_server(login=("rekindle", "right")) as server:
        wrong = with_smtp(settings, server.port, username="rekindle", password=SecretStr("wrong"))
        async with real_life(time_env, sessions) as life:
            async with real_worker(life, wrong, cached=False):
                await go_silent(life, cid)
                await life.until(cid, deferred, step=timedelta(days=1), limit=timedelta(days=120))
                for _ in range(4):
                    await life.sleep(timedelta(hours=6))
                    await assert_still_approved(life, cid)
            right = with_smtp(settings, server.port, username="rekindle", password=SecretStr("right"))
            async with real_worker(life, right):  # ops fix the password and redeploy
                await life.until(cid, settled, step=timedelta(minutes=30), limit=timedelta(days=2))
                await life.sleep(timedelta(days=2))
                await assert_sent_once(life, cid, len(server.received))
