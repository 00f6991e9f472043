"""The design Rekindle avoids, for comparison only: wake every day and rescore."""

from __future__ import annotations

import contextlib
from collections import deque
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts.messages import SIGNAL_ORDER_PLACED, OrderPlaced, RecordOrderInput
    from core.contracts.scoring import RescoreInput
    from core.contracts.state import ClientWorkflowInput
    from workflows import calls

NAIVE_WORKFLOW = "DailyRescoreWorkflow"
DAY = timedelta(days=1)


@workflow.defn(name=NAIVE_WORKFLOW)
class DailyRescoreWorkflow:
    """Records orders like the real workflow, but rescores on a fixed daily tick."""

    @workflow.init
    def __init__(self, input: ClientWorkflowInput) -> None:
        self._client_id = input.client_id
        self._pending: deque[OrderPlaced] = deque()
        self._seen: set[str] = set()

    @workflow.signal(name=SIGNAL_ORDER_PLACED)
    def order_placed(self, order: OrderPlaced) -> None:
        if order.order_id not in self._seen:
            self._seen.add(order.order_id)
            self._pending.append(order)

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        next_tick = workflow.now() + DAY
        while True:
            timeout = max(next_tick - workflow.now(), timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: bool(self._pending), timeout=timeout)
            while self._pending:
                order = self._pending.popleft()
                await calls.record_order(RecordOrderInput(client_id=self._client_id, order=order))
            if workflow.now() >= next_tick:
                await calls.rescore(RescoreInput(client_id=self._client_id, now=workflow.now()))
                next_tick = workflow.now() + DAY
