"""Fault: the integrator's endpoint is down for a while, then recovers.

Every event arrives (at least once; by ``webhook-id`` exactly the set written), in order
per client, correctly signed; meanwhile the client workflows answer as fast as ever,
because they only ever wrote an outbox row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType

from core.contracts.messages import client_workflow_id
from tests.fakes.webhook_receiver import Receiver
from tests.helpers import eventually, serve_app, unique_id
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.temporal, pytest.mark.fault]
CLIENTS = 6


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver(down=True)
    async with serve_app(hook.app()) as base_url:
        yield hook, f"{base_url}/hook"


async def _paused(stack: Stack, cid: str, expected: bool) -> bool:
    body = (await stack.http.get(f"/v1/clients/{cid}")).json()
    return (body.get("live_state") or {}).get("paused") is expected


async def _act(stack: Stack, cid: str) -> float:
    """Pause then resume one client; seconds until its workflow showed both."""
    started = time.monotonic()
    assert (
        await stack.http.post(f"/v1/clients/{cid}:pause", json={"reason": "fault test"})
    ).status_code == 200
    await eventually(lambda: _paused(stack, cid, True), timeout=20)
    assert (await stack.http.post(f"/v1/clients/{cid}:resume")).status_code == 200
    await eventually(lambda: _paused(stack, cid, False), timeout=20)
    return time.monotonic() - started


async def test_webhook_endpoint_down_then_up_loses_nothing(
    stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    created = await stack.http.post(
        "/v1/webhooks", json={"url": url, "event_types": ["client.paused", "client.resumed"]}
    )
    assert created.status_code == 201, created.text
    hook.secret = created.json()["secret"]
    endpoint_id = created.json()["id"]
    cids = [unique_id("f") for _ in range(CLIENTS)]
    for cid in cids:
        assert (await stack.http.put(f"/v1/clients/{cid}", json={"first_name": "Anna"})).status_code == 202
    # While the endpoint refuses, client actions go through at their usual pace.
    took = await asyncio.gather(*(_act(stack, cid) for cid in cids))
    await eventually(lambda: hook.refused >= 3, timeout=30)  # it was tried, and kept being retried
    deliveries = (
        await stack.http.get(f"/v1/webhooks/{endpoint_id}/deliveries", params={"status": "pending"})
    ).json()
    assert deliveries["items"][0]["attempts"] >= 2
    assert deliveries["items"][0]["last_error"] == "HTTP 503"
    assert hook.events == []
    hook.down = False  # the endpoint recovers
    await eventually(lambda: len({e["webhook_id"] for e in hook.events}) >= 2 * CLIENTS, timeout=60)
    unique = {e["webhook_id"]: e for e in hook.events}
    assert len(unique) == 2 * CLIENTS
    assert hook.bad_signatures == 0
    for cid in cids:
        types = [e["type"] for e in hook.events if e["data"]["client_id"] == cid]
        assert types[:2] == ["client.paused", "client.resumed"]  # in order per client
    for cid in cids:  # the client workflows never waited on delivery
        history = await stack.temporal.get_workflow_handle(client_workflow_id(cid)).fetch_history()
        scheduled = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        names = {e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled}
        assert "deliver_webhooks" not in names
    assert max(took) < 15, took
