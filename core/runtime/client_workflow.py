"""The client workflow as its callers see it: signal-with-start, a bounded query, the email
Updates. Used by the API, the dashboard and the CLI alike.

Transport-neutral: failures are the domain errors below, never HTTP answers (``api/errors.py``
maps them to statuses). Never waits for a workflow result; every call has a deadline, and
Temporal being unreachable is ``TemporalUnavailable``: nothing was accepted, retry.
"""

from __future__ import annotations

import asyncio
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

from core.contracts.approval import UPDATE_ERROR_GUARDRAILS, EmailDecision
from core.contracts.consent import PastEmailSent
from core.contracts.emails import GuardrailVerdict
from core.contracts.messages import (
    CLIENT_WORKFLOW,
    QUERY_STATE,
    SIGNAL_ORDER_PLACED,
    SIGNAL_ORDERS_IMPORTED,
    SIGNAL_PAST_EMAIL_SENT,
    OrderPlaced,
    OrdersImported,
    client_workflow_id,
)
from core.contracts.state import ClientWorkflowInput
from core.runtime.workflow_config import WorkflowStart

LiveStateReason = Literal["no_workflow", "workflow_unavailable", "query_failed", "temporal_unavailable"]
SIGNAL_TIMEOUT = timedelta(seconds=10)
QUERY_TIMEOUT = timedelta(seconds=2)
UPDATE_TIMEOUT = timedelta(seconds=10)
# Temporal answered, but could not serve the call now: the same as unreachable to a caller.
UNAVAILABLE_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


class ClientWorkflowError(Exception):
    """A call to a client workflow that did not do what was asked."""


class TemporalUnavailable(ClientWorkflowError):
    """Temporal is unreachable or overloaded: nothing was accepted; retry later."""

    def __init__(self) -> None:
        super().__init__("the workflow service is unreachable; nothing was accepted, retry later")


class WorkflowBusy(ClientWorkflowError):
    """The workflow did not answer an Update in time; a retry is deduplicated (same Update id)."""

    def __init__(self) -> None:
        super().__init__("the client's workflow did not answer in time; retry (a retry is deduplicated)")


class EmailNotPending(ClientWorkflowError):
    """The email is not awaiting this decision (decided, expired, stale), or the client's
    workflow is not running (``workflow_running`` False): nothing changed."""

    def __init__(self, reason: str, *, workflow_running: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.workflow_running = workflow_running


class EditRejected(ClientWorkflowError):
    """The edited email fails the guardrails: ``verdicts`` are the failing ones."""

    def __init__(self, message: str, verdicts: list[GuardrailVerdict]) -> None:
        super().__init__(message)
        self.verdicts = verdicts


async def signal_with_start(
    temporal: Client, start: WorkflowStart, client_id: str, signal: str, arg: object
) -> str:
    """Deliver ``signal`` to the client's workflow, starting it if needed; return its id.

    Returns once Temporal has persisted the signal.
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
    return await signal_with_start(temporal, start, client_id, SIGNAL_ORDER_PLACED, order)


async def send_imported_orders(
    temporal: Client, start: WorkflowStart, client_id: str, batch: OrdersImported
) -> str:
    """A client's imported history in one message (``rekindle import``)."""
    return await signal_with_start(temporal, start, client_id, SIGNAL_ORDERS_IMPORTED, batch)


async def send_past_email(
    temporal: Client, start: WorkflowStart, client_id: str, event: PastEmailSent
) -> str:
    return await signal_with_start(temporal, start, client_id, SIGNAL_PAST_EMAIL_SENT, event)


async def query_state(
    temporal: Client, client_id: str
) -> tuple[dict[str, Any] | None, LiveStateReason | None]:
    """The workflow's ``state`` query as plain JSON, or ``None`` and why it is missing.

    Read generically: the state view grows with the workflow, callers pass it on.
    """
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    try:
        state = await handle.query(QUERY_STATE, rpc_timeout=QUERY_TIMEOUT)
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
    """Run an email Update (approve, reject, cancel) with a deterministic id, so a repeated
    request (a double click, a retried bulk run) is the same Update and gets the same answer."""
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    seconds = UPDATE_TIMEOUT.total_seconds()
    try:
        decision: EmailDecision = await asyncio.wait_for(
            handle.execute_update(
                name, arg, id=update_id(name, arg), result_type=EmailDecision, rpc_timeout=UPDATE_TIMEOUT
            ),
            seconds + 2,
        )
        return decision
    except WorkflowUpdateFailedError as exc:
        raise _rejection(exc.cause) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        raise WorkflowBusy() from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise EmailNotPending("the client's workflow is not running", workflow_running=False) from None
        if exc.status in UNAVAILABLE_CODES:
            raise TemporalUnavailable() from exc
        raise
    except RuntimeError as exc:
        raise TemporalUnavailable() from exc


def _rejection(cause: BaseException | None) -> ClientWorkflowError:
    message = str(getattr(cause, "message", None) or cause or "refused")
    if isinstance(cause, ApplicationError) and cause.type == UPDATE_ERROR_GUARDRAILS:
        return EditRejected(message, _verdicts(cause))
    return EmailNotPending(message)


def _verdicts(error: ApplicationError) -> list[GuardrailVerdict]:
    """The failing verdicts the validator sent (``details[0]``), read leniently."""
    sent = error.details[0] if error.details else []
    verdicts = []
    for item in sent if isinstance(sent, list) else []:
        if isinstance(item, dict) and not item.get("passed", False):
            verdicts.append(
                GuardrailVerdict(
                    name=str(item.get("name", "guardrail")), passed=False, detail=str(item.get("detail", ""))
                )
            )
    return verdicts
