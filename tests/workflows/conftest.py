"""A client's life on the time-skipping server: the real workflow (sandbox on), the real
order and scoring activities on a real database, doubles for drafting and sending.

``REKINDLE_RECORD_HISTORIES=1`` writes each scenario's histories (SQLite run) into a new
version folder of ``tests/workflows/histories/`` for the replay tests (``recording.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.facts import ClientFactsActivities
from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from core.contracts.messages import (
    CLIENT_WORKFLOW,
    QUERY_STATE,
    SIGNAL_ORDER_PLACED,
    OrderPlaced,
    client_workflow_id,
)
from core.contracts.state import ClientStateView, ClientWorkflowInput, WorkflowConfig
from core.runtime.workflow_config import initial_search_attributes
from tests.helpers import new_worker, random_task_queue
from tests.workflows.doubles import EmailDoubles
from tests.workflows.policy_double import PolicyDouble
from tests.workflows.recording import RECORD, record_chain
from workflows.client import ClientEngagementWorkflow

# Tests choose holdout explicitly: by default nobody is in the control group.
CONFIG = WorkflowConfig(holdout_fraction=0.0)
QUERY_TIMEOUT = timedelta(seconds=3)
QUIET_TIMEOUT = timedelta(seconds=15)
_TASK_IN_FLIGHT = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
)


@dataclass
class Life:
    """Drive one or more clients' workflows through simulated time."""

    env: WorkflowEnvironment
    task_queue: str
    doubles: EmailDoubles
    sessions: async_sessionmaker[AsyncSession]
    handles: dict[str, WorkflowHandle[ClientEngagementWorkflow, None]] = field(default_factory=dict)
    policy: PolicyDouble = field(default_factory=PolicyDouble)

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def signal(
        self, client_id: str, signal: str, arg: object, config: WorkflowConfig = CONFIG
    ) -> WorkflowHandle[ClientEngagementWorkflow, None]:
        """Signal-with-start, exactly as the API does."""
        self.policy.configs.setdefault(client_id, config)
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
        await self.signal(client_id, SIGNAL_ORDER_PLACED, order, config)
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
                    QUERY_STATE, result_type=ClientStateView, rpc_timeout=QUERY_TIMEOUT
                )
                return state
            except RPCError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def sleep(self, delta: timedelta) -> None:
        await self.env.sleep(delta)

    async def end(self) -> None:
        """Terminate every client's workflow once it is quiet (see ``quiet``)."""
        for handle in self.handles.values():
            current = self.client.get_workflow_handle(handle.id)
            await quiet(current)
            # The shared test server must not keep skipping through finished tests' timers.
            await current.terminate("test over")

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
        OrderActivities(sessions).record_orders,
        ScoringActivities(sessions).rescore_client,
        ClientFactsActivities(sessions).load_client_facts,
        *doubles.activities(),
    ]
    life = Life(env, task_queue, doubles, sessions)
    activities.append(life.policy.load_policy)
    worker = new_worker(
        env.client, workflows=[ClientEngagementWorkflow], activities=activities, task_queue=task_queue
    )
    async with worker:
        yield life
        await record_scenario(life, request)
        await life.end()


async def quiet(handle: WorkflowHandle[object, object], timeout: timedelta = QUIET_TIMEOUT) -> None:  # noqa: ASYNC109
    """Wait (worker still running) until the workflow has no activity or workflow task in flight.

    The time-skipping test server locks time skipping for every scheduled activity and workflow
    task and releases the lock when the task completes. A workflow terminated with one in flight
    (e.g. the ``update_email`` activity just after an ``approve_email`` update returns) never
    releases it: time skipping stays locked for the rest of the session, and the next test's
    ``env.sleep`` waits in real time until its RPC times out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout.total_seconds()
    while not await _is_quiet(handle):
        if loop.time() > deadline:
            raise AssertionError(f"{handle.id} still has a task in flight after {timeout}")
        await asyncio.sleep(0.02)


async def _is_quiet(handle: WorkflowHandle[object, object]) -> bool:
    description = await handle.describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return True
    raw = description.raw_description
    if raw.pending_activities or raw.HasField("pending_workflow_task"):
        return False
    # The test server does not report the pending workflow task: read it off the history.
    last = None
    async for event in handle.fetch_history_events():
        last = event
    return last is None or last.event_type not in _TASK_IN_FLIGHT


async def record_scenario(life: Life, request: pytest.FixtureRequest) -> None:
    """With REKINDLE_RECORD_HISTORIES=1 (SQLite runs only): every run of every client in the
    scenario, oldest first, into the corpus (recording.py)."""
    if not (RECORD and "sqlite" in request.node.name):
        return
    name = request.node.originalname
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None:  # a parametrized scenario: one file per case (the database aside)
        case = [part for part in callspec.id.split("-") if part != "sqlite"]
        name = "-".join([name, *case]) if case else name
    for n, handle in enumerate(life.handles.values()):
        run_id = handle.first_execution_run_id or handle.result_run_id
        await record_chain(life.client, handle.id, run_id, f"{name}-{n}")
