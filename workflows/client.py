"""The client engagement workflow: one durable entity per client.

A client's workflow (id ``client-{client_id}``) is started by the first event the
API forwards for them and then lives as long as the client does. Signals only
record and enqueue; the main loop does the work through activities, so every
side effect is retried by Temporal and every decision is replayable. When the
history grows large the run continues as new, carrying a compact state.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        CLIENT_WORKFLOW,
        CarriedState,
        ClientStateView,
        ClientWorkflowInput,
        OrderPlaced,
        RecordOrderInput,
        RecordOrderResult,
    )

RECENT_ORDER_IDS = 1000
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=CLIENT_WORKFLOW)
class ClientEngagementWorkflow:
    """Listens to one client's orders and keeps their record up to date."""

    @workflow.init
    def __init__(self, input: ClientWorkflowInput) -> None:
        carried = input.carried or CarriedState()
        self._client_id = input.client_id
        self._recent = deque(carried.recent_order_ids, maxlen=RECENT_ORDER_IDS)
        self._pending: deque[OrderPlaced] = deque(carried.pending_orders)
        self._order_count = carried.order_count
        self._last_order_at = carried.last_order_at

    @workflow.signal(name="order_placed")
    def order_placed(self, order: OrderPlaced) -> None:
        """Enqueue an order unless this run has seen its id already."""
        if order.order_id in self._recent or any(p.order_id == order.order_id for p in self._pending):
            return
        self._pending.append(order)

    @workflow.query(name="state")
    def state(self) -> ClientStateView:
        return ClientStateView(
            client_id=self._client_id,
            order_count=self._order_count,
            last_order_at=self._last_order_at,
            pending_orders=len(self._pending),
        )

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        while True:
            await workflow.wait_condition(
                lambda: bool(self._pending) or workflow.info().is_continue_as_new_suggested()
            )
            while self._pending:
                await self._record(self._pending[0])
                self._pending.popleft()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._pending:
                    workflow.continue_as_new(
                        ClientWorkflowInput(client_id=self._client_id, carried=self._carry())
                    )

    async def _record(self, order: OrderPlaced) -> None:
        result: RecordOrderResult = await workflow.execute_activity(
            "record_order",
            RecordOrderInput(client_id=self._client_id, order=order),
            result_type=RecordOrderResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )
        self._recent.append(order.order_id)
        self._order_count = result.order_count
        self._last_order_at = result.last_order_at

    def _carry(self) -> CarriedState:
        return CarriedState(
            recent_order_ids=list(self._recent),
            pending_orders=list(self._pending),
            order_count=self._order_count,
            last_order_at=self._last_order_at,
        )
