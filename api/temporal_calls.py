"""How the API talks to client workflows: signal-with-start, bounded queries and Updates.

Never waits for a workflow result. Every call has a deadline; Temporal being
unreachable becomes ``TemporalUnavailable`` (503, nothing accepted).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import UNAVAILABLE_CODES, ApiError, FieldError, TemporalUnavailable
from core.contracts import (
    CLIENT_WORKFLOW,
    UPDATE_ERROR_GUARDRAILS,
    ClientWorkflowInput,
    EmailDecision,
    OrderPlaced,
    PastEmailSent,
    client_workflow_id,
)
from core.workflow_config import WorkflowStart

LiveStateReason = Literal["no_workflow", "workflow_unavailable", "query_failed", "temporal_unavailable"]
SIGNAL_TIMEOUT = timedelta(seconds=10)
QUERY_TIMEOUT = timedelta(seconds=2)
UPDATE_TIMEOUT = timedelta(seconds=10)


async def signal_with_start(
    temporal: Client, start: WorkflowStart, client_id: str, signal: str, arg: object
) -> str:
    """Deliver ``signal`` to the client's workflow, starting it if needed; return its id.

    Returns once Temporal has persisted the signal. Unreachable Temporal raises
    ``TemporalUnavailable`` (503): nothing was accepted, the caller retries.
    """
    workflow_id = client_workflow_id(client_id)
    try:
        await temporal.start_workflow(
            CLIENT_WORKFLOW,
            ClientWorkflowInput(client_id=client_id, config=start.config),
            id=workflow_id,
            task_queue=start.task_queue,
            search_attributes=start.search_attributes(client_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=[arg],
            rpc_timeout=SIGNAL_TIMEOUT,
        )
    except RPCError as exc:
        if exc.status in UNAVAILABLE_CODES:
            raise TemporalUnavailable() from exc
        raise
    except RuntimeError as exc:  # a lazy client that cannot connect
        raise TemporalUnavailable() from exc
    return workflow_id


async def send_order(temporal: Client, start: WorkflowStart, client_id: str, order: OrderPlaced) -> str:
    return await signal_with_start(temporal, start, client_id, "order_placed", order)


async def send_past_email(
    temporal: Client, start: WorkflowStart, client_id: str, event: PastEmailSent
) -> str:
    return await signal_with_start(temporal, start, client_id, "past_email_sent", event)


async def query_state(
    temporal: Client, client_id: str
) -> tuple[dict[str, Any] | None, LiveStateReason | None]:
    """The workflow's ``state`` query as plain JSON, or ``None`` and why it is missing.

    Read generically: the state view grows with the workflow, the API passes it on.
    """
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    try:
        state = await handle.query("state", rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, "no_workflow"
        if exc.status in UNAVAILABLE_CODES:
            return None, "workflow_unavailable"
        return None, "query_failed"
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError):
        return None, "query_failed"
    except RuntimeError:
        return None, "temporal_unavailable"
    if isinstance(state, BaseModel):
        return state.model_dump(mode="json"), None
    return (state, None) if isinstance(state, dict) else (None, "query_failed")


def update_id(name: str, arg: BaseModel) -> str:
    """Deterministic per (update, payload): a retried request is deduplicated by Temporal."""
    digest = hashlib.sha256(json.dumps(arg.model_dump(mode="json"), sort_keys=True).encode())
    return f"{name}-{digest.hexdigest()[:24]}"


async def decide_email(temporal: Client, client_id: str, name: str, arg: BaseModel) -> EmailDecision:
    """Run the ``approve_email``/``reject_email`` Update and map its rejection to 409/422."""
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    try:
        decision: EmailDecision = await handle.execute_update(
            name, arg, id=update_id(name, arg), result_type=EmailDecision, rpc_timeout=UPDATE_TIMEOUT
        )
        return decision
    except WorkflowUpdateFailedError as exc:
        raise _rejection(exc.cause) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise ApiError(
            503,
            "workflow_busy",
            "the client's workflow did not answer in time; retry (a retry is deduplicated)",
            headers={"Retry-After": "5"},
        ) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "not_pending", "the email is not awaiting a decision") from None
        if exc.status in UNAVAILABLE_CODES:
            raise TemporalUnavailable() from exc
        raise
    except RuntimeError as exc:
        raise TemporalUnavailable() from exc


def _rejection(cause: BaseException | None) -> ApiError:
    if isinstance(cause, ApplicationError) and cause.type == UPDATE_ERROR_GUARDRAILS:
        return ApiError(422, "edit_rejected", "the edited email fails the guardrails", _verdicts(cause))
    return ApiError(409, "not_pending", "the email is not awaiting a decision (already decided or stale)")


def _verdicts(error: ApplicationError) -> list[FieldError]:
    """Failing guardrail verdicts from the error's details, read leniently."""
    verdicts = error.details[0] if error.details else []
    fields = []
    for verdict in verdicts if isinstance(verdicts, list) else []:
        if isinstance(verdict, dict) and not verdict.get("passed", False):
            reason = f"{verdict.get('name', 'guardrail')}: {verdict.get('detail', '')}".rstrip(": ")
            fields.append(FieldError(field="body", reason=reason))
    return fields or [FieldError(field="body", reason=str(error.message) or "fails the guardrails")]
