"""Ingest: orders forwarded by backend services to the client's workflow."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response, status
from temporalio.service import RPCError

from api import examples
from api.auth import IngestKey
from api.batches import InvalidItem
from api.deps import StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS
from api.order_schemas import (
    BATCH_EXAMPLE,
    ORDER_EXAMPLE,
    BatchOrder,
    BatchResult,
    ClientIdPath,
    ItemResult,
    OrderAccepted,
    OrderBatch,
    OrderIn,
)
from core.runtime.client_workflow import TemporalUnavailable, send_order
from core.runtime.metrics import ORDERS_ACCEPTED, ORDERS_UNAVAILABLE

router = APIRouter(prefix="/v1", tags=["ingest"])

# Signal-with-starts in flight per batch: enough to hide round trips, few enough that
# one batch cannot monopolise the server.
BATCH_CONCURRENCY = 32


@router.post(
    "/clients/{client_id}/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**examples.ok(examples.ACCEPTED, 202), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Ingest one order",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": ORDER_EXAMPLE}}}},
)
async def ingest_order(
    client_id: ClientIdPath, order: OrderIn, state: StateDep, _key: IngestKey
) -> OrderAccepted:
    """Forward the order to the client's workflow (starting it if needed).

    Answers 202 once Temporal has durably accepted the signal. Idempotent by
    ``order_id``: sending the same order again changes nothing.
    """
    try:
        workflow_id = await send_order(state.temporal, state.start, client_id, order.order())
    except TemporalUnavailable:
        ORDERS_UNAVAILABLE.inc()
        raise
    ORDERS_ACCEPTED.inc()
    return OrderAccepted(client_id=client_id, order_id=order.order_id, workflow_id=workflow_id)


@router.post(
    "/orders:batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**examples.ok(examples.BATCH, 202), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Ingest up to 1,000 orders",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": BATCH_EXAMPLE}}}},
)
async def ingest_batch(
    batch: OrderBatch, state: StateDep, response: Response, _key: IngestKey
) -> BatchResult:
    """Forward each valid order to its client's workflow; report per item.

    A bad item is reported (``invalid``, with field reasons) and does not sink the
    batch. Items Temporal could not accept are ``unavailable``: resend them (or the
    whole batch: orders are idempotent by ``order_id``). If Temporal is unreachable
    for every valid item the answer is 503 with Retry-After.
    """
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)
    results = await asyncio.gather(*(_one(state, gate, i, item) for i, item in enumerate(batch.orders)))
    counts = {s: sum(r.status == s for r in results) for s in ("accepted", "invalid", "unavailable")}
    ORDERS_ACCEPTED.inc(counts["accepted"])
    ORDERS_UNAVAILABLE.inc(counts["unavailable"])
    if counts["unavailable"]:
        if not counts["accepted"]:
            raise TemporalUnavailable()
        response.headers["Retry-After"] = str(TEMPORAL_RETRY_AFTER_SECONDS)
    return BatchResult(**counts, results=results)


async def _one(state: StateDep, gate: asyncio.Semaphore, index: int, item: Any) -> ItemResult:
    if isinstance(item, InvalidItem):
        return ItemResult(index=index, status="invalid", errors=item.fields)
    assert isinstance(item, BatchOrder)
    result = ItemResult(index=index, client_id=item.client_id, order_id=item.order_id, status="accepted")
    async with gate:
        try:
            await send_order(state.temporal, state.start, item.client_id, item.order())
        except (TemporalUnavailable, RPCError):
            result.status = "unavailable"
    return result
