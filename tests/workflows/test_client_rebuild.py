"""A run without carried state rebuilds the client from the database (real dev server).

Ops terminate (or reset) a client's workflow; the next event starts a new, empty run. It must
load consent, the last send, the order book and the email in flight before acting: an
opted-out client is never drafted again, the frequency cap holds, a pending draft resumes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.store import record_opt_out
from core.contracts.consent import Paused, ProfileUpdated, Unsubscribed
from core.contracts.messages import (
    SIGNAL_ORDERS_IMPORTED,
    SIGNAL_PAUSED,
    SIGNAL_PROFILE_UPDATED,
    SIGNAL_UNSUBSCRIBED,
    OrderPlaced,
    OrdersImported,
)
from core.contracts.state import ClientStateView, WorkflowConfig
from core.runtime.settings import Settings
from core.store.ops_models import ClientPause
from tests.activities.factories import add_client
from tests.fakes.smtp import FakeSmtp, smtp_server
from tests.helpers import eventually
from tests.workflows.conftest import CONFIG, Life
from tests.workflows.pipeline_env import AUTO, emails_of, real_life, real_worker, with_smtp

pytestmark = pytest.mark.temporal
DAY = timedelta(days=1)


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def life(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: FakeSmtp,
) -> AsyncIterator[Life]:
    async with real_life(dev_env, sessions) as life, real_worker(life, with_smtp(settings, smtp.port)):
        yield life


async def lapsed_client(life: Life, config: WorkflowConfig) -> str:
    """A client whose three monthly orders stopped 100 days ago: at risk at once.

    The history arrives as one message, as ``rekindle import`` sends it: sent one order at a
    time, a draft made after the first could be cancelled by the next (``client ordered``).
    """
    cid = await add_client(life.sessions, categories=())
    now = datetime.now(UTC)
    orders = [
        OrderPlaced(
            order_id=f"{cid}-o{n}", placed_at=now - days_ago * DAY, currency="USD", amount=Decimal("50.00")
        )
        for n, days_ago in enumerate((160, 130, 100))
    ]
    await life.signal(cid, SIGNAL_ORDERS_IMPORTED, OrdersImported(orders=orders), config)
    return cid


async def state_when(life: Life, cid: str, check: object) -> ClientStateView:
    async def reached() -> ClientStateView | None:
        state = await life.state(cid)
        return state if check(state) else None  # type: ignore[operator]

    result: ClientStateView = await eventually(reached, timeout=60)
    return result


async def terminate_then_order(life: Life, cid: str, config: WorkflowConfig) -> ClientStateView:
    """Ops terminate the workflow; a late order (still 95 days old) starts a new run."""
    await life.handle(cid).terminate("ops")
    await life.order(cid, f"{cid}-late", config, at=datetime.now(UTC) - 95 * DAY)
    return await state_when(life, cid, lambda s: s.order_count == 4 and s.tier == "at_risk")


async def test_client_opted_out_is_not_drafted_after_terminate(life: Life) -> None:
    cid = await lapsed_client(life, CONFIG)
    await state_when(life, cid, lambda s: s.pending_email is not None)
    await record_opt_out(life.sessions, cid)  # as the one-click route does, then the signal
    await life.signal(cid, SIGNAL_UNSUBSCRIBED, Unsubscribed(at=datetime.now(UTC), source="one_click"))
    await state_when(life, cid, lambda s: s.last_email is not None)

    state = await terminate_then_order(life, cid, CONFIG)
    assert state.unsubscribed
    assert state.counters.runs == 1  # a new run, not a continued one
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(first_name="Anna"))  # one more wake
    state = await state_when(life, cid, lambda s: s.profile is not None and s.profile.first_name == "Anna")
    assert state.pending_email is None
    assert [e.status for e in await emails_of(life.sessions, cid)] == ["cancelled"]


async def test_client_frequency_cap_holds_after_terminate(life: Life, smtp: FakeSmtp) -> None:
    cid = await lapsed_client(life, AUTO)
    sent = await state_when(life, cid, lambda s: s.last_email is not None)
    assert sent.last_email is not None
    assert sent.last_email.status == "sent"

    state = await terminate_then_order(life, cid, AUTO)
    assert state.last_sent_at is not None
    assert state.draft_not_before is not None
    assert state.draft_not_before > datetime.now(UTC) + 20 * DAY  # the cool-down from the database
    assert state.pending_email is None
    assert len(smtp.received) == 1
    assert [e.status for e in await emails_of(life.sessions, cid)] == ["sent"]


async def test_client_pending_draft_resumes_after_terminate(life: Life) -> None:
    cid = await lapsed_client(life, CONFIG)
    drafted = await state_when(life, cid, lambda s: s.pending_email is not None)
    assert drafted.pending_email is not None

    await life.handle(cid).terminate("ops")
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(time_zone="Europe/Stockholm"))
    state = await state_when(life, cid, lambda s: s.tier == "at_risk")
    assert state.pending_email is not None
    assert state.pending_email.email_id == drafted.pending_email.email_id
    assert state.profile is not None
    assert (state.profile.email, state.profile.time_zone) == ("anna@example.org", "Europe/Stockholm")
    assert state.order_count == 3
    assert len(await emails_of(life.sessions, cid)) == 1


async def test_client_held_by_ops_stays_held_after_terminate(life: Life) -> None:
    """An open-ended ops pause lives in the database too: a new run starts paused, drafts nothing."""
    cid = await add_client(life.sessions, categories=())
    async with life.sessions.begin() as session:  # what POST /v1/clients/{id}:pause stores
        session.add(ClientPause(client_id=cid, paused=True, paused_at=datetime.now(UTC), paused_by="ops"))
    await life.signal(cid, SIGNAL_PAUSED, Paused(reason="complaint under review"))
    now = datetime.now(UTC)
    for n, days_ago in enumerate((160, 130, 100)):
        await life.order(cid, f"{cid}-o{n}", CONFIG, at=now - days_ago * DAY)
    held = await state_when(life, cid, lambda s: s.order_count == 3 and s.tier == "at_risk")
    assert (held.paused, held.pending_email) == (True, None)

    state = await terminate_then_order(life, cid, CONFIG)
    assert state.counters.runs == 1  # a new run, not a continued one
    assert state.paused
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(first_name="Anna"))  # one more wake
    state = await state_when(life, cid, lambda s: s.profile is not None and s.profile.first_name == "Anna")
    assert (state.paused, state.pending_email) == (True, None)
    assert await emails_of(life.sessions, cid) == []
