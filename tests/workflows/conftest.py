"""A client's life on the time-skipping server: the real workflow (sandbox on), the real
order and scoring activities on a real database, doubles for drafting and sending.

``REKINDLE_RECORD_HISTORIES=1`` writes each scenario's histories (SQLite run) to
``tests/workflows/histories/`` for the replay tests.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from core.contracts import (
    CLIENT_WORKFLOW,
    ClientStateView,
    ClientWorkflowInput,
    OrderPlaced,
    WorkflowConfig,
    client_workflow_id,
)
from core.workflow_config import initial_search_attributes
from tests.helpers import new_worker, random_task_queue
from tests.workflows.doubles import EmailDoubles
from workflows.client import ClientEngagementWorkflow

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("REKINDLE_RECORD_HISTORIES") == "1"
# Tests choose holdout explicitly: by default nobody is in the control group.
CONFIG = WorkflowConfig(holdout_fraction=0.0)
QUERY_TIMEOUT = timedelta(seconds=3)


@dataclass
class Life:
    """Drive one or more clients' workflows through simulated time."""

    env: WorkflowEnvironment
    task_queue: str
    doubles: EmailDoubles
    sessions: async_sessionmaker[AsyncSession]
    handles: dict[str, WorkflowHandle[ClientEngagementWorkflow, None]] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def signal(
        self, client_id: str, signal: str, arg: object, config: WorkflowConfig = CONFIG
    ) -> WorkflowHandle[ClientEngagementWorkflow, None]:
        """Signal-with-start, exactly as the API does."""
        handle: WorkflowHandle[ClientEngagementWorkflow, None] = await self.client.start_workflow(
            CLIENT_WORKFLOW,
            ClientWorkflowInput(client_id=client_id, config=config),
            id=client_workflow_id(client_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=initial_search_attributes(client_id, config),
            start_signal=signal,
            start_signal_args=[arg],
        )
        self.handles.setdefault(client_id, handle)
        return handle

    async def order(
        self, client_id: str, order_id: str, config: WorkflowConfig = CONFIG, at: datetime | None = None
    ) -> OrderPlaced:
        order = OrderPlaced(
            order_id=order_id, placed_at=at or await self.now(), currency="USD", amount=Decimal("50.00")
        )
        await self.signal(client_id, "order_placed", order, config)
        return order

    def handle(self, client_id: str) -> WorkflowHandle[ClientEngagementWorkflow, None]:
        return self.client.get_workflow_handle_for(
            ClientEngagementWorkflow.run, client_workflow_id(client_id)
        )

    async def state(self, client_id: str) -> ClientStateView:
        # A query that lands on a run just as it continues as new is never answered by the test
        # server (the worker's answer finds the run completed): ask again, briefly.
        for attempt in range(3):
            try:
                state: ClientStateView = await self.handle(client_id).query(
                    "state", result_type=ClientStateView, rpc_timeout=QUERY_TIMEOUT
                )
                return state
            except RPCError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def sleep(self, delta: timedelta) -> None:
        await self.env.sleep(delta)

    async def until(
        self,
        client_id: str,
        check: Callable[[ClientStateView], bool],
        step: timedelta = timedelta(hours=6),
        limit: timedelta = timedelta(days=400),
    ) -> ClientStateView:
        """Advance time in steps until the client's state satisfies ``check``."""
        waited = timedelta()
        while True:
            state = await self.state(client_id)
            if check(state):
                return state
            if waited >= limit:
                raise AssertionError(f"not reached within {limit}: {state!r}")
            await self.sleep(step)
            waited += step


@pytest.fixture
async def life(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Life]:
    """On the time-skipping server: a year of a client's life in seconds."""
    async with _life(time_env, sessions, request) as life:
        yield life


@pytest.fixture
async def dev_life(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Life]:
    """On the real dev server (real time): for what the test server gets wrong, such as
    signals that arrive while a run continues as new."""
    async with _life(dev_env, sessions, request) as life:
        yield life


@contextlib.asynccontextmanager
async def _life(
    env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], request: pytest.FixtureRequest
) -> AsyncIterator[Life]:
    doubles = EmailDoubles()
    task_queue = random_task_queue()
    activities = [
        OrderActivities(sessions).record_order,
        ScoringActivities(sessions).rescore_client,
        *doubles.activities(),
    ]
    life = Life(env, task_queue, doubles, sessions)
    worker = new_worker(
        env.client, workflows=[ClientEngagementWorkflow], activities=activities, task_queue=task_queue
    )
    async with worker:
        yield life
        if RECORD and "sqlite" in request.node.name:
            await _record(life, request.node.originalname)
        for handle in life.handles.values():
            # The shared test server must not keep skipping through finished tests' timers.
            await life.client.get_workflow_handle(handle.id).terminate("test over")


async def _record(life: Life, name: str) -> None:
    """Every run of every client in the scenario, oldest first."""
    HISTORIES.mkdir(exist_ok=True)
    for n, handle in enumerate(life.handles.values()):
        runs = []
        run_id: str | None = handle.first_execution_run_id or handle.result_run_id
        while run_id:
            history = await life.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
            runs.append(history)
            run_id = _continued_as(history)
        for i, history in enumerate(runs):
            if not any(e.HasField("workflow_task_completed_event_attributes") for e in history.events):
                continue  # a run that has only just started: nothing to replay yet
            compact = json.dumps(history.to_json_dict(), separators=(",", ":"))
            (HISTORIES / f"{name}-{n}-run{i}.json").write_text(compact + "\n")


def _continued_as(history: object) -> str | None:
    events = history.events  # type: ignore[attr-defined]
    last = events[-1]
    if last.HasField("workflow_execution_continued_as_new_event_attributes"):
        run: str = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        return run
    return None
