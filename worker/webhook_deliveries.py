"""At worker start: a delivery workflow for every enabled webhook endpoint.

The API starts one when an endpoint is registered or enabled; this covers the rest (a
workflow terminated by hand, a namespace restored without it). A running one is left as it is.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from core.contracts.ops import WEBHOOK_WORKFLOW, WebhookDeliveryInput, webhook_workflow_id
from core.runtime.logging import get_logger
from core.runtime.settings import Settings
from core.store.ops_models import WebhookEndpoint

log = get_logger(__name__)


async def ensure_webhook_deliveries(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> int:
    """Start (or keep) each enabled endpoint's delivery workflow; how many endpoints."""
    async with sessions() as session:
        endpoint_ids = list(await session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.enabled)))
    hooks = settings.webhooks
    for endpoint_id in endpoint_ids:
        await client.start_workflow(
            WEBHOOK_WORKFLOW,
            WebhookDeliveryInput(
                endpoint_id=endpoint_id, max_retry_interval_seconds=hooks.max_retry_interval_seconds
            ),
            id=webhook_workflow_id(endpoint_id),
            task_queue=hooks.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    if endpoint_ids:
        log.info("webhook deliveries running", endpoints=len(endpoint_ids))
    return len(endpoint_ids)
