"""The ``deliver_webhooks`` activity: one pass over an endpoint's outbox, in order, signed.

Per endpoint, ``webhook_endpoints.cursor`` is the outbox ``seq`` up to which every event
is settled (delivered, not subscribed to, or given up on). A pass reads the events after
it, POSTs each subscribed one with Standard Webhooks headers (``webhook-id`` is the event
id, stable across retries, so receivers can deduplicate), records the attempt in
``webhook_deliveries``, and moves the cursor with a conditional UPDATE (a replay that
moved it meanwhile wins). A refusal (non-2xx, timeout, connection error) raises a
retryable error: Temporal's retry policy is the back-off. An event refused for longer than
``give_up_after_hours`` is marked ``failed`` and passed over, so one poisoned event cannot
stall an endpoint forever; replay sends it again. Idle, a pass polls the outbox every
``poll_interval_seconds`` while heartbeating, and returns after about a minute.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts.ops import ACTIVITY_DELIVER_WEBHOOKS, DeliverWebhooksInput, DeliverWebhooksResult
from core.runtime.settings import Settings
from core.runtime.webhook_urls import url_problem
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.ops_models import OutboxEvent, WebhookDelivery, WebhookEndpoint

PASS_SECONDS = 60.0
BATCH = 50
USER_AGENT = "Rekindle-Webhooks/1"


def payload(event: OutboxEvent) -> str:
    """The body: the event type, when it happened, and its data (ids and states only)."""
    body = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": event.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def _worker_stopping(wait_seconds: float) -> bool:
    """Wait for new events a little; ``True`` if the worker is shutting down meanwhile, so an idle
    pass ends at once instead of holding the worker's graceful shutdown for its full minute."""
    try:
        await asyncio.wait_for(activity.wait_for_worker_shutdown(), wait_seconds)
    except TimeoutError:
        return False
    return True


class WebhookActivities:
    """Webhook delivery, built with the session factory, settings and an optional HTTP transport."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings.webhooks
        self._transport = transport

    @activity.defn(name=ACTIVITY_DELIVER_WEBHOOKS)
    async def deliver_webhooks(self, input: DeliverWebhooksInput) -> DeliverWebhooksResult:
        """Deliver what is new for the endpoint; raise (retry with back-off) on a refusal."""
        deadline = time.monotonic() + PASS_SECONDS
        delivered = 0
        timeout = httpx.Timeout(self._settings.timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as http:
            while True:
                endpoint = await self._endpoint(input.endpoint_id)
                if endpoint is None or not endpoint.enabled:
                    return DeliverWebhooksResult(delivered=delivered, disabled=True)
                events = await self._events_after(endpoint.cursor)
                if not events:
                    if time.monotonic() > deadline or await _worker_stopping(
                        self._settings.poll_interval_seconds
                    ):
                        return DeliverWebhooksResult(delivered=delivered)  # the next pass carries on
                    activity.heartbeat(delivered)
                    continue
                delivered += await self._deliver_batch(http, endpoint, events)

    async def _deliver_batch(
        self, http: httpx.AsyncClient, endpoint: WebhookEndpoint, events: list[OutboxEvent]
    ) -> int:
        delivered = 0
        for event in events:
            if event.type in endpoint.event_types and await self._deliver(http, endpoint, event):
                delivered += 1
            if not await self._advance(endpoint.id, endpoint.cursor, event.seq):
                break  # replayed or reset meanwhile: start again from the stored cursor
            endpoint.cursor = event.seq
            activity.heartbeat(delivered)
        return delivered

    async def _deliver(self, http: httpx.AsyncClient, endpoint: WebhookEndpoint, event: OutboxEvent) -> bool:
        """``True`` when delivered, ``False`` when given up on; raises to retry later."""
        body = payload(event)
        code: int | None = None
        error = await url_problem(endpoint.url, self._settings.allow_private_urls)
        if error is None:
            try:
                headers = signed_headers(endpoint.secret, event.event_id, body, utcnow())
                response = await http.post(endpoint.url, content=body, headers=headers)
                code = response.status_code
                error = None if 200 <= code < 300 else f"HTTP {code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
        first = await self._record(endpoint.id, event.seq, code, error)
        if error is None:
            return True
        if utcnow() - first > timedelta(hours=self._settings.give_up_after_hours):
            await self._mark_failed(endpoint.id, event.seq)
            return False
        raise ApplicationError(f"endpoint did not accept the event: {error}", type="WebhookNotDelivered")

    async def _endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        async with self._sessions() as session:
            return await session.get(WebhookEndpoint, endpoint_id)

    async def _events_after(self, cursor: int) -> list[OutboxEvent]:
        async with self._sessions() as session:
            query = select(OutboxEvent).where(OutboxEvent.seq > cursor).order_by(OutboxEvent.seq).limit(BATCH)
            return list(await session.scalars(query))

    async def _advance(self, endpoint_id: str, old: int, new: int) -> bool:
        async with transaction(self._sessions) as session:
            moved = await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.cursor == old)
                .values(cursor=new)
            )
            return bool(cast(CursorResult[Any], moved).rowcount)

    async def _record(self, endpoint_id: str, seq: int, code: int | None, error: str | None) -> datetime:
        """Count the attempt; return when the first attempt was made."""
        now = utcnow()
        row = {
            "endpoint_id": endpoint_id,
            "event_seq": seq,
            "status": "pending",
            "attempts": 0,
            "first_attempt_at": now,
            "last_attempt_at": now,
        }
        async with transaction(self._sessions) as session:
            dialect = session.get_bind().dialect.name
            await session.execute(
                insert_ignoring_conflicts(
                    dialect, WebhookDelivery.__table__, row, ["endpoint_id", "event_seq"]
                )
            )
            where = (WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_seq == seq)
            await session.execute(
                update(WebhookDelivery)
                .where(*where)
                .values(
                    # a replayed event starts a fresh give-up clock
                    first_attempt_at=case(
                        (WebhookDelivery.status != "pending", now), else_=WebhookDelivery.first_attempt_at
                    ),
                    attempts=WebhookDelivery.attempts + 1,
                    last_attempt_at=now,
                    last_status_code=code,
                    last_error=error[:500] if error else None,
                    status="delivered" if error is None else "pending",
                    delivered_at=now if error is None else None,
                )
            )
            first = await session.scalar(select(WebhookDelivery.first_attempt_at).where(*where))
        return first or now

    async def _mark_failed(self, endpoint_id: str, seq: int) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_seq == seq)
                .values(status="failed")
            )
