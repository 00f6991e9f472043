"""Poison-proof payloads and version skew, with the worker wired as in production.

A signal sent by hand without the codec (plaintext JSON, as the stock ``temporal workflow
signal`` writes it) is decoded by the worker and counted, never jams the workflow; a signal
from newer code (a field this code does not know) or older code (an optional field left
out) is recorded. What Rekindle itself writes stays encrypted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.contracts.messages import SIGNAL_ORDER_PLACED, OrderPlaced, client_workflow_id
from core.runtime.client_workflow import send_order
from core.runtime.codec import ENCODING
from core.runtime.settings import Settings
from core.runtime.temporal import data_converter
from core.runtime.workflow_config import WorkflowStart
from tests.helpers import eventually, orders_recorded, unique_id
from worker.main import worker_codec, workers_running

pytestmark = pytest.mark.temporal
PLAINTEXT = "rekindle_plaintext_payloads_decoded_total"


@contextlib.asynccontextmanager
async def production_worker(
    env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    client = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(worker_codec(settings)),
    )
    async with workers_running(client, settings, sessions):
        yield


def order(order_id: str, **extra: object) -> dict[str, object]:
    placed = datetime(2026, 1, 5, 10, tzinfo=UTC).isoformat()
    return {"order_id": order_id, "placed_at": placed, "currency": "USD", "amount": "12.50", **extra}


def plaintext_counted() -> float:
    return REGISTRY.get_sample_value(PLAINTEXT) or 0.0


async def test_plaintext_and_skewed_signals_are_recorded(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = unique_id("poison")
    api = dev_env.client  # encrypts, as the API does
    start = WorkflowStart.from_settings(settings)
    by_hand = Client(  # the stock CLI without --codec-endpoint: plaintext JSON payloads
        api.service_client, namespace=api.namespace, data_converter=pydantic_data_converter
    )
    before = plaintext_counted()
    async with production_worker(dev_env, settings, sessions):
        await send_order(api, start, cid, OrderPlaced.model_validate(order(f"{cid}-1")))
        await eventually(lambda: orders_recorded(api, cid, 1), timeout=30)
        handle = api.get_workflow_handle(client_workflow_id(cid))
        await by_hand.get_workflow_handle(handle.id).signal(SIGNAL_ORDER_PLACED, order(f"{cid}-2"))
        await eventually(lambda: orders_recorded(api, cid, 2), timeout=30)
        assert plaintext_counted() > before

        # Version skew: a newer sender's unknown field, an older sender's missing optional one.
        await handle.signal(SIGNAL_ORDER_PLACED, order(f"{cid}-3", coupon="WINTER", channel="app"))
        await handle.signal(SIGNAL_ORDER_PLACED, order(f"{cid}-4"))  # no "items"
        await eventually(lambda: orders_recorded(api, cid, 4), timeout=30)

        # The next order through the API path is recorded within seconds.
        await send_order(api, start, cid, OrderPlaced.model_validate(order(f"{cid}-5")))
        await eventually(lambda: orders_recorded(api, cid, 5), timeout=30)

    raw = Client(api.service_client, namespace=api.namespace)  # no converter: what is stored
    history = await raw.get_workflow_handle(handle.id).fetch_history()
    written = [
        p
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        for p in e.activity_task_scheduled_event_attributes.input.payloads
    ]
    assert written
    assert {p.metadata["encoding"] for p in written} == {ENCODING}  # the worker's own writes
