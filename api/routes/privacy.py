"""A client's rights: a copy of everything Rekindle holds about them, and erasure (admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from temporalio.service import RPCError, RPCStatusCode

from api import examples
from api.auth import AdminKey
from api.deps import StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND_RESPONSE, ApiError
from api.order_schemas import ClientIdPath
from api.privacy_schemas import ClientExport, ErasureReceipt
from core.contracts.messages import client_workflow_id
from core.contracts.ops import resume_timer_id
from core.runtime.client_workflow import UNAVAILABLE_CODES, TemporalUnavailable, query_state
from core.runtime.logging import get_logger
from core.store.db import transaction, utcnow
from core.store.privacy import erase_client, export_client, scrub_sqlite

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["privacy"])
TERMINATE_REASON = "client erased on request"  # stored in the history: no personal data


@router.get(
    "/clients/{client_id}/export",
    responses={
        **examples.ok(examples.CLIENT_EXPORT),
        **AUTH_RESPONSES,
        **NOT_FOUND_RESPONSE,
        **ERROR_RESPONSES,
    },
    summary="Everything Rekindle holds about a client (right of access)",
)
async def export(client_id: ClientIdPath, state: StateDep, _key: AdminKey) -> ClientExport:
    """Profile, orders, scores, emails with their events, suppressions, live workflow state."""
    async with state.sessions() as session:
        rows = await export_client(session, client_id)
    if rows is None:
        raise ApiError(404, "not_found", "no such client")
    live, reason = await query_state(state.temporal, client_id)
    return ClientExport(
        client_id=client_id, exported_at=utcnow(), live_state=live, live_state_reason=reason, **rows
    )


@router.delete(
    "/clients/{client_id}",
    responses={**examples.ok(examples.ERASURE_RECEIPT), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Erase a client (right to be forgotten)",
)
async def erase(client_id: ClientIdPath, state: StateDep, _key: AdminKey) -> ErasureReceipt:
    """Terminate the workflow, delete every row about the client, destroy their data key.

    Their Temporal history stays until the namespace's retention, undecodable by anyone.
    A keyed hash of their address stays on the suppression list. Idempotent. If Temporal
    is unreachable the answer is 503 and nothing was erased.
    """
    workflow = await _terminate(state, client_workflow_id(client_id))
    await _terminate(state, resume_timer_id(client_id))  # a pause's timed resume would write them back
    secret = state.settings.security.suppression_hash_secret.get_secret_value()
    async with transaction(state.sessions) as session:
        erased = await erase_client(session, client_id, secret)
    await scrub_sqlite(state.engine)
    if state.data_keys is not None:
        state.data_keys.forget(client_id, erased.data_key_id)
    log.info("client erased", client_id=client_id, rows=sum(erased.rows.values()))
    return ErasureReceipt(
        client_id=client_id,
        workflow=workflow,
        data_key_destroyed=erased.data_key_id is not None,
        rows_deleted=erased.rows,
        hashed_suppressions=erased.hashed_suppressions,
    )


async def _terminate(state: StateDep, workflow_id: str) -> Literal["terminated", "not_running"]:
    # A reason and no details: details would be a payload, encoded under a data key again.
    handle = state.temporal.get_workflow_handle(workflow_id)
    try:
        await handle.terminate(reason=TERMINATE_REASON)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "not_running"
        if exc.status in UNAVAILABLE_CODES:
            raise TemporalUnavailable() from exc
        raise
    except RuntimeError as exc:  # a lazy client that cannot connect
        raise TemporalUnavailable() from exc
    return "terminated"
