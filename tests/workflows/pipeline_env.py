"""The client workflow with every real activity (template drafting, the real ledger, a real
SMTP server): for scenarios where the database and the workflow must tell the same story."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.drafting import DraftingActivities
from activities.emails import EmailActivities
from activities.facts import ClientFactsActivities
from activities.mail import SmtpPool
from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from activities.sending import SendingActivities
from core.contracts.state import WorkflowConfig
from core.runtime.settings import Settings
from core.store.models import Email
from tests.helpers import new_worker, random_task_queue
from tests.workflows.conftest import Life
from tests.workflows.doubles import EmailDoubles
from workflows.client import ClientEngagementWorkflow

# Auto-approved, nobody held out, no quiet hours: the send happens as soon as the gate allows.
AUTO = WorkflowConfig(auto_approve=True, holdout_fraction=0.0, quiet_hours_start=0, quiet_hours_end=0)


def with_smtp(settings: Settings, port: int, **smtp: Any) -> Settings:
    smtp_settings = settings.smtp.model_copy(update={"port": port, "timeout_seconds": 2.0, **smtp})
    return settings.model_copy(update={"smtp": smtp_settings})


def real_activities(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, smtp: SmtpPool
) -> list[Callable[..., Any]]:
    return [
        OrderActivities(sessions).record_order,
        OrderActivities(sessions).record_orders,
        ScoringActivities(sessions).rescore_client,
        ClientFactsActivities(sessions).load_client_facts,
        EmailActivities(sessions, settings).update_email,
        DraftingActivities(sessions, settings).draft_email,
        SendingActivities(sessions, settings, smtp).send_email,
    ]


@contextlib.asynccontextmanager
async def real_worker(life: Life, settings: Settings, *, cached: bool = True) -> AsyncIterator[None]:
    """A worker with the real activities on the life's task queue.

    One that will be replaced (a redeploy) runs uncached: the test server never moves a run
    off a stopped worker's sticky queue for queries, so the next worker would not answer.
    """
    smtp = SmtpPool(settings.smtp)  # as the worker sends: over reused connections
    worker = new_worker(
        life.client,
        workflows=[ClientEngagementWorkflow],
        activities=[*real_activities(life.sessions, settings, smtp), life.policy.load_policy],
        task_queue=life.task_queue,
        max_cached_workflows=1000 if cached else 0,
    )
    try:
        async with worker:
            yield
    finally:
        await smtp.close()


@contextlib.asynccontextmanager
async def real_life(
    env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Life]:
    """A ``Life`` (for its helpers) whose clients' workflows are terminated at the end."""
    life = Life(env, random_task_queue(), EmailDoubles(), sessions)
    try:
        yield life
    finally:
        for handle in life.handles.values():
            with contextlib.suppress(Exception):
                await life.client.get_workflow_handle(handle.id).terminate("test over")


async def emails_of(sessions: async_sessionmaker[AsyncSession], client_id: str) -> list[Email]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Email).where(Email.client_id == client_id).order_by(Email.created_at)
        )
        return list(rows)


async def go_silent(life: Life, client_id: str, config: WorkflowConfig = AUTO) -> None:
    """Three monthly orders, then nothing: at risk some 75 days after the last one."""
    for month in range(3):
        await life.order(client_id, f"{client_id}-o{month}", config)
        await life.sleep(timedelta(days=30))
