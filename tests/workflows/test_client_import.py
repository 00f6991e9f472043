"""An imported history (``orders_imported``, what ``rekindle import`` sends): one message per
client, recorded by one activity, scored once, drafted at most once and from the latest order."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType

from core.contracts.messages import (
    ACTIVITY_DRAFT_EMAIL,
    ACTIVITY_RECORD_ORDER,
    ACTIVITY_RECORD_ORDERS,
    ACTIVITY_RESCORE,
    SIGNAL_ORDERS_IMPORTED,
    OrderPlaced,
    OrdersImported,
)
from core.store.models import Order
from tests.helpers import unique_id
from tests.workflows.conftest import Life
from tests.workflows.test_client_life import count

pytestmark = pytest.mark.temporal


async def activity_types(life: Life, cid: str) -> Counter[str]:
    """How many times each activity was scheduled in the client's current run."""
    scheduled: Counter[str] = Counter()
    async for event in life.client.get_workflow_handle(life.handle(cid).id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return scheduled


async def history(life: Life, cid: str, orders: int, last_days_ago: int) -> list[OrderPlaced]:
    """``orders`` orders a month apart, oldest first, the newest ``last_days_ago`` days ago."""
    now = await life.now()
    return [
        OrderPlaced(
            order_id=f"{cid}-o{i}",
            placed_at=now - timedelta(days=last_days_ago + 30 * (orders - 1 - i)),
            currency="USD",
            amount=Decimal("80.00") + i,
        )
        for i in range(orders)
    ]


async def test_client_imported_history_is_recorded_once_scored_once_drafted_at_most_once(life: Life) -> None:
    cid = unique_id("imported")
    orders = await history(life, cid, orders=12, last_days_ago=120)  # drifting away: at risk
    await life.signal(cid, SIGNAL_ORDERS_IMPORTED, OrdersImported(orders=orders))
    state = await life.until(
        cid, lambda s: s.order_count == 12 and s.tier is not None, step=timedelta(hours=1)
    )
    assert state.pending_orders == 0
    assert state.last_order_at == orders[-1].placed_at
    await life.sleep(timedelta(hours=1))

    scheduled = await activity_types(life, cid)
    assert scheduled[ACTIVITY_RECORD_ORDERS] == 1, scheduled
    assert scheduled[ACTIVITY_RECORD_ORDER] == 0, scheduled
    assert scheduled[ACTIVITY_RESCORE] == 1, scheduled
    assert scheduled[ACTIVITY_DRAFT_EMAIL] == 1, scheduled
    assert len(life.doubles.drafts) == 1
    state = await life.state(cid)
    assert state.counters.orders_recorded == 12
    assert await count(life, Order.client_id, cid) == 12
    # Drafted from the latest state: the newest imported order, not a stale one it then cancels.
    assert state.tier == "at_risk"
    assert state.pending_email is not None
    assert state.pending_email.status == "pending_approval"
    assert state.pending_email.basis_last_order_at == orders[-1].placed_at

    # The live path carries on: a new order is recorded (one activity, one order) and rescored.
    live = orders[-1].model_copy(update={"order_id": f"{cid}-live", "placed_at": await life.now()})
    await life.order(cid, live.order_id, at=live.placed_at)
    state = await life.until(cid, lambda s: s.order_count == 13, step=timedelta(minutes=10))
    assert state.last_order_at == live.placed_at
    assert (await activity_types(life, cid))[ACTIVITY_RECORD_ORDER] == 1


async def test_client_imported_history_sent_twice_changes_nothing(life: Life) -> None:
    """A re-run import (resumed, or ``--restart``) sends the same orders again: ids dedupe them."""
    cid = unique_id("reimport")
    orders = await history(life, cid, orders=5, last_days_ago=10)
    await life.signal(cid, SIGNAL_ORDERS_IMPORTED, OrdersImported(orders=orders))
    await life.until(cid, lambda s: s.order_count == 5, step=timedelta(minutes=10))
    await life.signal(cid, SIGNAL_ORDERS_IMPORTED, OrdersImported(orders=orders[2:]))
    await life.sleep(timedelta(hours=1))
    state = await life.state(cid)
    assert (state.order_count, state.pending_orders, state.counters.orders_recorded) == (5, 0, 5)
    assert await count(life, Order.client_id, cid) == 5
    assert (await activity_types(life, cid))[ACTIVITY_RECORD_ORDERS] == 1


def test_client_imported_history_message_is_bounded() -> None:
    """One message holds at most IMPORT_BATCH_MAX orders; the importer splits longer histories."""
    from pydantic import ValidationError

    from core.contracts.messages import IMPORT_BATCH_MAX

    order = OrderPlaced(order_id="o", placed_at="2025-01-01T00:00:00Z", currency="USD", amount=Decimal(1))
    OrdersImported(orders=[order] * IMPORT_BATCH_MAX)
    with pytest.raises(ValidationError):
        OrdersImported(orders=[order] * (IMPORT_BATCH_MAX + 1))
    with pytest.raises(ValidationError):
        OrdersImported(orders=[])
