"""An activity the erased client's workflow scheduled before the erasure cannot write them back;
a client who comes back afterwards (a new workflow, new activities) is recorded as usual."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderActivities
from core.contracts.messages import OrderPlaced, RecordOrderInput
from core.store.clients import CLIENT_ERASED
from core.store.db import transaction, utcnow
from core.store.models import Client, Order
from core.store.privacy import erase_client
from tests.helpers import order_body


def _scheduled(at: datetime) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, scheduled_time=at)
    return env


async def _record(sessions: async_sessionmaker[AsyncSession], at: datetime, order_id: str) -> None:
    order = OrderPlaced.model_validate(order_body(order_id))
    await _scheduled(at).run(
        OrderActivities(sessions).record_order, RecordOrderInput(client_id="c-9", order=order)
    )


async def _clients(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Client.id)))


async def test_erasure_fence_stops_late_activities_of_the_erased_workflow(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    before = utcnow()
    await _record(sessions, before, "o-1")
    async with transaction(sessions) as session:
        await erase_client(session, "c-9", "secret")
    with pytest.raises(ApplicationError) as raised:
        await _record(sessions, before, "o-2")  # in flight when the workflow was terminated
    assert (raised.value.type, raised.value.non_retryable) == (CLIENT_ERASED, True)
    assert await _clients(sessions) == []

    await _record(sessions, utcnow() + timedelta(seconds=1), "o-3")  # the client came back
    assert await _clients(sessions) == ["c-9"]
    async with sessions() as session:
        assert list(await session.scalars(select(Order.order_id))) == ["o-3"]
