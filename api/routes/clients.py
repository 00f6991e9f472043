"""Clients: create or update a profile, list by risk, read one with its live workflow state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api import examples
from api.actions import upsert_client
from api.auth import IngestKey, OpsKey
from api.deps import SessionDep, StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND_RESPONSE, ApiError
from api.queries import ClientFilters, client_emails, list_clients, score_history
from api.routes.orders import ClientIdPath
from api.schemas import (
    ClientDetail,
    ClientPage,
    ClientProfileIn,
    ClientSummary,
    EmailSummary,
    Profile,
    ProfileAccepted,
    ScorePoint,
)
from core.client_workflow import query_state
from core.contracts import ProfileUpdated, Tier
from core.models import Client

router = APIRouter(prefix="/v1", tags=["clients"])
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


@router.put(
    "/clients/{client_id}",
    status_code=202,
    responses={**examples.ok(examples.PROFILE_ACCEPTED, 202), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Create or update a client's profile",
)
async def put_client(
    client_id: ClientIdPath, profile: ClientProfileIn, state: StateDep, _key: IngestKey
) -> ProfileAccepted:
    """Store the profile and tell the client's workflow (starting it if needed).

    Idempotent: the same body again changes nothing. Fields left out keep their
    value. If Temporal is unreachable the answer is 503 and nothing is stored.
    """
    update = ProfileUpdated.model_validate(profile.model_dump())
    workflow_id, changed = await upsert_client(state, client_id, update)
    return ProfileAccepted(client_id=client_id, workflow_id=workflow_id, changed=changed)


@router.get(
    "/clients",
    responses={**examples.ok(examples.CLIENT_PAGE), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="List clients by tier, score, segment, holdout, last order",
)
async def get_clients(
    session: SessionDep,
    _key: OpsKey,
    tier: Tier | None = None,
    segment: Annotated[str | None, Query(max_length=32)] = None,
    score_min: Annotated[float | None, Query(ge=0, le=100)] = None,
    score_max: Annotated[float | None, Query(ge=0, le=100)] = None,
    holdout: bool | None = None,
    last_order_before: AwareDatetime | None = None,
    last_order_after: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ClientPage:
    """Clients in a stable order (by id), one page at a time; filters combine with AND."""
    filters = ClientFilters(
        tier=tier,
        segment=segment,
        score_min=score_min,
        score_max=score_max,
        holdout=holdout,
        last_order_before=last_order_before,
        last_order_after=last_order_after,
    )
    rows, next_cursor = await list_clients(session, filters, limit, cursor)
    return ClientPage(items=[ClientSummary.of(c) for c in rows], next_cursor=next_cursor)


@router.get(
    "/clients/{client_id}",
    responses={
        **examples.ok(examples.CLIENT_DETAIL),
        **AUTH_RESPONSES,
        **NOT_FOUND_RESPONSE,
        **ERROR_RESPONSES,
    },
    summary="One client: profile, score history, emails, live workflow state",
)
async def get_client(
    client_id: ClientIdPath, session: SessionDep, state: StateDep, _key: OpsKey
) -> ClientDetail:
    """The database's view of the client plus the workflow's ``state`` query.

    The query waits at most a couple of seconds; when the workflow or its worker is
    unavailable, ``live_state`` is null and ``live_state_reason`` says why.
    """
    client = await session.get(Client, client_id)
    if client is None:
        raise ApiError(404, "not_found", "no such client")
    scores = await score_history(session, client_id)
    emails = await client_emails(session, client_id)
    live, reason = await query_state(state.temporal, client_id)
    return ClientDetail(
        **ClientSummary.of(client).model_dump(),
        profile=Profile.of(client),
        scores=[ScorePoint.of(s) for s in scores],
        emails=[EmailSummary.of(e) for e in emails],
        live_state=live,
        live_state_reason=reason,
    )
