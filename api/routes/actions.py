"""Ops actions: pause, resume or unsubscribe a client; cancel or resolve an email.

Ops scope. Each is idempotent (a repeat answers ``changed: false``), refused with 409
when the state does not allow it, forwarded to the client's workflow, recorded in the
database and the audit log. The logic is shared with the dashboard (``api.actions``,
``api.email_actions``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import actions, email_actions, examples, ops_examples
from api.action_schemas import (
    CancelIn,
    ClientActionOut,
    EmailActionOut,
    PauseIn,
    ResolveIn,
    ResumeIn,
    UnsubscribeIn,
)
from api.auth import OpsKey, Principal
from api.deps import StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND_RESPONSE
from api.order_schemas import ClientIdPath
from api.routes.emails import EmailIdPath
from core.store.audit import Actor

router = APIRouter(prefix="/v1", tags=["ops actions"])
RESPONSES: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    **NOT_FOUND_RESPONSE,
    **ERROR_RESPONSES,
    **ops_examples.CONFLICT,
}
CLIENT = {**RESPONSES, **examples.ok(ops_examples.CLIENT_ACTION)}
EMAIL = {**RESPONSES, **examples.ok(ops_examples.EMAIL_ACTION)}


def key_actor(key: Principal, request: Request) -> Actor:
    """An API key acting, named ``key:<name>``, from the caller's address."""
    return Actor(f"key:{key.name}", "api_key", request.client.host if request.client else None)


@router.post("/clients/{client_id}:pause", responses=CLIENT, summary="Pause a client (optionally until)")
async def pause_client(
    client_id: ClientIdPath, request: Request, state: StateDep, key: OpsKey, body: PauseIn | None = None
) -> ClientActionOut:
    """No drafting or sending until resumed (or until ``until``); 409 if unsubscribed."""
    body = body or PauseIn()
    return await actions.pause(state, client_id, key_actor(key, request), body.until, body.reason)


@router.post("/clients/{client_id}:resume", responses=CLIENT, summary="Resume a paused client")
async def resume_client(
    client_id: ClientIdPath, request: Request, state: StateDep, key: OpsKey, _body: ResumeIn | None = None
) -> ClientActionOut:
    """Lift an ops pause; 409 if the client was never paused."""
    return await actions.resume(state, client_id, key_actor(key, request))


@router.post("/clients/{client_id}:unsubscribe", responses=CLIENT, summary="Unsubscribe a client")
async def unsubscribe_client(
    client_id: ClientIdPath, body: UnsubscribeIn, request: Request, state: StateDep, key: OpsKey
) -> ClientActionOut:
    """Withdraw consent on the client's behalf (e.g. asked by phone), with a reason."""
    return await actions.unsubscribe(state, client_id, key_actor(key, request), body.reason)


@router.post("/emails/{email_id}:cancel", responses=EMAIL, summary="Cancel a draft or a scheduled send")
async def cancel_email(
    email_id: EmailIdPath, request: Request, state: StateDep, key: OpsKey, body: CancelIn | None = None
) -> EmailActionOut:
    """409 when the email is sending or settled."""
    reason = (body or CancelIn()).reason
    return await email_actions.cancel(state, email_id, key_actor(key, request), reason)


@router.post(
    "/emails/{email_id}:resolve", responses=EMAIL, summary="Settle an email whose outcome is unknown"
)
async def resolve_email(
    email_id: EmailIdPath, body: ResolveIn, request: Request, state: StateDep, key: OpsKey
) -> EmailActionOut:
    """Mark an ``unknown`` email ``sent`` or ``not_sent`` (stored as ``failed``); 409 otherwise."""
    return await email_actions.resolve(state, email_id, key_actor(key, request), body.outcome, body.note)
