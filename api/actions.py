"""Ops actions on a client (pause, resume, unsubscribe), shared by the API and the dashboard.

Temporal first, then the database: if the signal is refused (503) nothing is stored; the
write after it is one short transaction holding the state row, the outbox event and the
audit entry, and a retry of the whole call finds the state and changes nothing. A call
whose state does not allow it (resume a client never paused, pause an unsubscribed one)
is a 409 and is audited as ``denied``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.action_schemas import ClientActionOut
from api.deps import AppState
from api.errors import ApiError, FieldError
from api.ops_temporal import cancel_resume_timer, start_resume_timer
from api.store import opt_out
from core.contracts.consent import Paused, ProfileUpdated, Resumed, Unsubscribed
from core.contracts.messages import SIGNAL_PAUSED, SIGNAL_RESUMED, SIGNAL_UNSUBSCRIBED
from core.runtime.client_workflow import signal_with_start
from core.store import audit, pauses
from core.store.audit import Actor
from core.store.db import transaction, utcnow
from core.store.models import Client
from core.store.ops_models import ClientPause
from core.store.outbox import emit_client_paused
from core.store.profiles import upsert_profile


async def upsert_client(state: AppState, client_id: str, update: ProfileUpdated) -> tuple[str, bool]:
    """Tell the client's workflow (starting it), then store the profile; the workflow id and
    whether anything changed. Temporal first: if it refuses, nothing is stored (503)."""
    return await upsert_profile(state.temporal, state.start, state.sessions, client_id, update)


async def _client(session: AsyncSession, client_id: str) -> tuple[Client, ClientPause | None]:
    client = await session.get(Client, client_id)
    if client is None:
        raise ApiError(404, "not_found", "no such client")
    return client, await session.get(ClientPause, client_id)


def _out(action: str, client: Client, hold: ClientPause | None, changed: bool) -> ClientActionOut:
    paused = hold is not None and hold.paused
    return ClientActionOut.model_validate(
        {
            "client_id": client.id,
            "action": action,
            "changed": changed,
            "paused": paused,
            "paused_until": hold.paused_until if paused and hold else None,
            "unsubscribed": client.unsubscribed_at is not None,
        }
    )


async def _refuse(
    state: AppState, actor: Actor, action: str, client_id: str, code: str, why: str
) -> ApiError:
    await audit.record(
        state.sessions,
        actor,
        action,
        target_type="client",
        target_id=client_id,
        outcome="denied",
        detail={"reason": code},
    )
    return ApiError(409, code, why)


async def pause(
    state: AppState, client_id: str, actor: Actor, until: datetime | None, reason: str
) -> ClientActionOut:
    """Pause drafting and sending; ``until`` resumes by itself (a timer workflow)."""
    now = utcnow()
    if until is not None and until <= now:
        raise ApiError(
            422,
            "validation_error",
            "the request is not valid",
            [FieldError(field="body.until", reason="must be in the future")],
        )
    async with state.sessions() as session:
        client, hold = await _client(session, client_id)
    if client.unsubscribed_at is not None:
        raise await _refuse(
            state,
            actor,
            "client.pause",
            client_id,
            "unsubscribed",
            "the client is unsubscribed; there is nothing to pause",
        )
    if hold is not None and hold.paused and hold.paused_until == until:
        return _out("pause", client, hold, changed=False)
    await signal_with_start(
        state.temporal, state.start, client_id, SIGNAL_PAUSED, Paused(reason=reason, by=actor.name)
    )
    if until is not None:
        await start_resume_timer(state.temporal, state.start, client_id, until)
    else:
        await cancel_resume_timer(state.temporal, client_id)
    async with transaction(state.sessions) as session:
        hold = await session.get(ClientPause, client_id) or ClientPause(client_id=client_id)
        hold.paused, hold.paused_at, hold.paused_until = True, now, until
        hold.paused_by, hold.reason, hold.resumed_at, hold.resumed_by = actor.name, reason or None, None, None
        session.add(hold)
        await emit_client_paused(session, client_id, now, until)
        session.add(
            audit.entry(
                actor,
                "client.pause",
                target_type="client",
                target_id=client_id,
                at=now,
                detail={"reason": reason, "paused_until": until.isoformat() if until else None},
            )
        )
    return _out("pause", client, hold, changed=True)


async def resume(state: AppState, client_id: str, actor: Actor) -> ClientActionOut:
    """Lift an ops pause; a repeat changes nothing, a client never paused is a 409."""
    async with state.sessions() as session:
        client, hold = await _client(session, client_id)
    if hold is None:
        raise await _refuse(
            state, actor, "client.resume", client_id, "not_paused", "the client is not paused"
        )
    if not hold.paused:
        return _out("resume", client, hold, changed=False)
    await signal_with_start(state.temporal, state.start, client_id, SIGNAL_RESUMED, Resumed(by=actor.name))
    await cancel_resume_timer(state.temporal, client_id)
    hold = await record_resume(state, client_id, actor)
    return _out("resume", client, hold, changed=True)


async def record_resume(state: AppState, client_id: str, actor: Actor) -> ClientPause | None:
    async with transaction(state.sessions) as session:
        return await pauses.record_resume(session, client_id, actor)


async def unsubscribe(state: AppState, client_id: str, actor: Actor, reason: str) -> ClientActionOut:
    """Withdraw consent on the client's behalf (e.g. asked by phone): suppressed for good."""
    async with state.sessions() as session:
        client, hold = await _client(session, client_id)
    if client.unsubscribed_at is not None:
        return _out("unsubscribe", client, hold, changed=False)
    now = utcnow()
    await signal_with_start(
        state.temporal, state.start, client_id, SIGNAL_UNSUBSCRIBED, Unsubscribed(at=now, source="ops")
    )
    async with transaction(state.sessions) as session:
        await opt_out(session, client_id, now, source="ops")
        session.add(
            audit.entry(
                actor,
                "client.unsubscribe",
                target_type="client",
                target_id=client_id,
                at=now,
                detail={"reason": reason},
            )
        )
        client = await session.get(Client, client_id, populate_existing=True) or client
    return _out("unsubscribe", client, hold, changed=True)
