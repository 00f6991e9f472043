"""Messages under stress: duplicate storms, continue-as-new mid-storm, update validators."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts.approval import ApproveEmail, EmailDecision
from core.contracts.consent import ProfileUpdated
from core.contracts.messages import (
    SIGNAL_ORDER_PLACED,
    SIGNAL_PROFILE_UPDATED,
    UPDATE_APPROVE_EMAIL,
    OrderPlaced,
)
from core.contracts.state import ClientStateView
from core.store.models import Order
from tests.helpers import eventually, unique_id
from tests.workflows.conftest import CONFIG, Life
from tests.workflows.test_client_life import approve, count, go_silent, has_draft

pytestmark = pytest.mark.temporal


async def test_client_storm_of_500_duplicate_orders_counts_each_once(life: Life) -> None:
    cid = unique_id("storm")
    first = await life.order(cid, f"{cid}-o0")
    orders = [first] + [first.model_copy(update={"order_id": f"{cid}-o{i}"}) for i in range(1, 5)]
    handle = life.handle(cid)
    await asyncio.gather(*(handle.signal(SIGNAL_ORDER_PLACED, orders[i % 5]) for i in range(500)))
    state = await life.until(cid, lambda s: s.order_count == 5 and s.pending_orders == 0, step=timedelta(1))
    await life.sleep(timedelta(days=1))
    state = await life.state(cid)
    assert state.order_count == 5
    assert state.counters.orders_recorded == 5
    assert state.counters.duplicate_orders == 496  # 500 signals + the first, 5 distinct ids
    assert await count(life, Order.client_id, cid) == 5


async def test_client_continue_as_new_keeps_state_and_loses_no_signal(dev_life: Life) -> None:
    # On the real dev server: the test server mishandles signals racing a continue-as-new.
    life = dev_life
    cid = unique_id("can")
    config = CONFIG.model_copy(update={"events_per_run": 60})
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(time_zone="Europe/Paris"), config)
    handle = life.handle(cid)
    now = await life.now()

    def order(i: int) -> OrderPlaced:
        return OrderPlaced(order_id=f"{cid}-o{i}", placed_at=now, currency="USD", amount="10.00")

    for wave in range(4):  # signals keep arriving while runs hand over to each other
        await asyncio.gather(*(handle.signal(SIGNAL_ORDER_PLACED, order(wave * 10 + i)) for i in range(10)))
        await asyncio.sleep(0.2)
    done = await eventually(lambda: _settled(life, cid, 40), timeout=60)
    assert done.counters.runs >= 2
    assert done.profile is not None
    assert done.profile.time_zone == "Europe/Paris"
    assert await count(life, Order.client_id, cid) == 40
    # Ops can filter on the upserted search attributes (visibility lags about a second).
    query = f"WorkflowId = 'client-{cid}' AND RiskTier = 'active' AND ExecutionStatus = 'Running'"
    assert await eventually(lambda: _visible(life, query), timeout=15) == 1

    await asyncio.gather(*(handle.signal(SIGNAL_ORDER_PLACED, order(i)) for i in range(10)))  # replays
    state = await eventually(lambda: _duplicates(life, cid, 10), timeout=30)
    assert state.order_count == 40
    assert state.counters.orders_recorded == 40
    assert state.score is not None


async def _visible(life: Life, query: str) -> int:
    return (await life.client.count_workflows(query)).count


async def _settled(life: Life, cid: str, orders: int) -> ClientStateView | None:
    state = await life.state(cid)
    settled = state.order_count == orders and state.pending_orders == 0 and state.counters.runs >= 2
    return state if settled and state.score is not None else None


async def _duplicates(life: Life, cid: str, n: int) -> ClientStateView | None:
    state = await life.state(cid)
    return state if state.counters.duplicate_orders == n else None


async def test_client_continue_as_new_carries_pending_draft(life: Life) -> None:
    cid = unique_id("candraft")
    config = CONFIG.model_copy(update={"events_per_run": 50, "quiet_hours_start": 0, "quiet_hours_end": 0})
    await go_silent(life, cid, config)
    before = await life.until(cid, has_draft)
    assert before.pending_email is not None
    runs = before.counters.runs
    for i in range(40):  # one message at a time until the run hands over
        zone = "Europe/Paris" if i % 2 else "Europe/Rome"
        await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(time_zone=zone), config)
        await life.sleep(timedelta(minutes=1))
        if (await life.state(cid)).counters.runs > runs:
            break
    after = await life.state(cid)
    assert after.counters.runs > runs
    assert after.pending_email == before.pending_email
    decision = await approve(life, cid, before.pending_email.email_id)
    assert decision.status == "approved"
    await life.until(cid, lambda s: s.counters.sent == 1, step=timedelta(minutes=10))
    assert len(life.doubles.sends(cid)) == 1


async def test_client_approval_validators_refuse_before_history(life: Life) -> None:
    cid = unique_id("valid")
    await go_silent(life, cid)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    bad = [
        ({"email_id": "not-the-draft"}, "EmailNotPending"),
        ({"email_id": email.email_id, "subject": "50% off: visit https://evil.example"}, "EditRejected"),
        ({"email_id": email.email_id, "body_text": "Now only $9.99!"}, "EditRejected"),
    ]
    for fields, error_type in bad:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await life.handle(cid).execute_update(
                UPDATE_APPROVE_EMAIL,
                ApproveEmail(approved_by="ops", **fields),
                result_type=EmailDecision,
            )
        assert isinstance(info.value.cause, ApplicationError)
        assert info.value.cause.type == error_type
    history = await life.handle(cid).fetch_history()
    accepted = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert accepted == []
    assert (await life.state(cid)).pending_email == email
    assert (await approve(life, cid, email.email_id)).status == "approved"
