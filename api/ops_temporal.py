"""How the API starts and ends the ops workflows: a pause's timed resume, webhook delivery."""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from core.contracts.ops import (
    RESUME_TIMER_WORKFLOW,
    WEBHOOK_WORKFLOW,
    ResumeAt,
    WebhookDeliveryInput,
    resume_timer_id,
    webhook_workflow_id,
)
from core.runtime.client_workflow import SIGNAL_TIMEOUT, UNAVAILABLE_CODES, TemporalUnavailable
from core.runtime.settings import Settings
from core.runtime.workflow_config import WorkflowStart


def _unavailable(exc: Exception) -> Exception:
    if isinstance(exc, RPCError) and exc.status not in UNAVAILABLE_CODES:
        return exc
    return TemporalUnavailable()


async def start_resume_timer(temporal: Client, start: WorkflowStart, client_id: str, until: datetime) -> None:
    """(Re)start the timer that resumes the client at ``until``; a newer pause replaces it."""
    await _start(
        temporal,
        RESUME_TIMER_WORKFLOW,
        ResumeAt(client_id=client_id, until=until),
        resume_timer_id(client_id),
        start.task_queue,
        WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )


async def cancel_resume_timer(temporal: Client, client_id: str) -> None:
    """End a pending timed resume, if any (a resume by hand, or a pause without end)."""
    try:
        await temporal.get_workflow_handle(resume_timer_id(client_id)).terminate(
            "replaced by an ops action", rpc_timeout=SIGNAL_TIMEOUT
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise _unavailable(exc) from exc
    except RuntimeError as exc:
        raise TemporalUnavailable() from exc


async def start_delivery(temporal: Client, settings: Settings, endpoint_id: str) -> None:
    """Make sure the endpoint's delivery workflow runs (a running one is left alone)."""
    hooks = settings.webhooks
    await _start(
        temporal,
        WEBHOOK_WORKFLOW,
        WebhookDeliveryInput(
            endpoint_id=endpoint_id, max_retry_interval_seconds=hooks.max_retry_interval_seconds
        ),
        webhook_workflow_id(endpoint_id),
        hooks.task_queue,
        WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def _start(
    temporal: Client, workflow: str, arg: object, id: str, task_queue: str, policy: WorkflowIDConflictPolicy
) -> None:
    try:
        await temporal.start_workflow(
            workflow, arg, id=id, task_queue=task_queue, id_conflict_policy=policy, rpc_timeout=SIGNAL_TIMEOUT
        )
    except (RPCError, RuntimeError) as exc:
        raise _unavailable(exc) from exc
