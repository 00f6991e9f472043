"""How the API talks to client workflows: signal-with-start, never waiting for results."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.errors import UNAVAILABLE_CODES, TemporalUnavailable
from core.contracts import (
    CLIENT_WORKFLOW,
    ClientWorkflowInput,
    OrderPlaced,
    client_workflow_id,
)
from core.settings import Settings
from core.workflow_config import initial_search_attributes, workflow_config


async def signal_with_start(
    temporal: Client, settings: Settings, client_id: str, signal: str, arg: object
) -> str:
    """Deliver ``signal`` to the client's workflow, starting it if needed; return its id.

    Returns once Temporal has persisted the signal. Unreachable Temporal raises
    ``TemporalUnavailable`` (503): nothing was accepted, the caller retries.
    """
    workflow_id = client_workflow_id(client_id)
    config = workflow_config(settings.policy, settings.temporal)
    try:
        await temporal.start_workflow(
            CLIENT_WORKFLOW,
            ClientWorkflowInput(client_id=client_id, config=config),
            id=workflow_id,
            task_queue=settings.temporal.task_queue,
            search_attributes=initial_search_attributes(client_id, config),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=[arg],
        )
    except RPCError as exc:
        if exc.status in UNAVAILABLE_CODES:
            raise TemporalUnavailable() from exc
        raise
    except RuntimeError as exc:  # a lazy client that cannot connect
        raise TemporalUnavailable() from exc
    return workflow_id


async def send_order(temporal: Client, settings: Settings, client_id: str, order: OrderPlaced) -> str:
    return await signal_with_start(temporal, settings, client_id, "order_placed", order)
