"""Clients: create or update a profile, list by risk, read one with its live workflow state."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime
from temporalio.service import RPCError

from api import examples
from api.actions import upsert_client
from api.auth import IngestKey, OpsKey
from api.batches import InvalidItem
from api.deps import SessionDep, StateDep
from api.errors import (
    AUTH_RESPONSES,
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    TEMPORAL_RETRY_AFTER_SECONDS,
    ApiError,
)
from api.order_schemas import ClientIdPath
from api.queries import ClientFilters, client_emails, list_clients, score_history
from api.schemas import (
    BatchProfile,
    ClientDetail,
    ClientPage,
    ClientProfileIn,
    ClientSummary,
    EmailSummary,
    Profile,
    ProfileAccepted,
    ProfileBatch,
    ProfileBatchResult,
    ProfileItemResult,
    ScorePoint,
)
from core.contracts.consent import ProfileUpdated
from core.contracts.scoring import Tier
from core.runtime.client_workflow import TemporalUnavailable, query_state
from core.store.models import Client
from core.store.profiles import store_profiles, tell_profile

PROFILE_BATCH_CONCURRENCY = 32  # as for order batches: hide round trips, never monopolise

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


@router.post(
    "/clients:batch",
    responses={**examples.ok(examples.PROFILE_BATCH), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Create or update up to 1,000 client profiles",
)
async def put_clients(
    batch: ProfileBatch, state: StateDep, response: Response, _key: IngestKey
) -> ProfileBatchResult:
    """``PUT /v1/clients/{id}`` for each item, with a result per item.

    A bad item is ``invalid`` (field reasons) and does not sink the batch; an item Temporal
    could not take is ``unavailable`` and nothing of it was stored: send it (or the whole batch,
    profiles are idempotent) again. If no item could be taken: 503 with Retry-After.
    """
    gate = asyncio.Semaphore(PROFILE_BATCH_CONCURRENCY)
    outcomes = await asyncio.gather(*(_tell(state, gate, i, item) for i, item in enumerate(batch.clients)))
    told = [(result, update) for result, update in outcomes if update is not None]
    updates = [(result.client_id or "", update) for result, update in told]
    for (result, _update), changed in zip(
        told, await store_profiles(state.sessions, state.start, updates), strict=True
    ):
        result.changed = changed
    results = [result for result, _ in outcomes]
    counts = {s: sum(r.status == s for r in results) for s in ("accepted", "invalid", "unavailable")}
    if counts["unavailable"]:
        if not counts["accepted"]:
            raise TemporalUnavailable()
        response.headers["Retry-After"] = str(TEMPORAL_RETRY_AFTER_SECONDS)
    return ProfileBatchResult(**counts, results=results)


async def _tell(
    state: StateDep, gate: asyncio.Semaphore, index: int, item: BatchProfile | InvalidItem
) -> tuple[ProfileItemResult, ProfileUpdated | None]:
    """Signal one item's profile; the update to store if Temporal took it (else nothing is)."""
    if isinstance(item, InvalidItem):
        return ProfileItemResult(index=index, status="invalid", errors=item.fields), None
    update = ProfileUpdated.model_validate(item.model_dump(exclude={"client_id"}))
    async with gate:
        try:
            await tell_profile(state.temporal, state.start, item.client_id, update)
        except (TemporalUnavailable, RPCError):
            return ProfileItemResult(index=index, client_id=item.client_id, status="unavailable"), None
    return ProfileItemResult(index=index, client_id=item.client_id, status="accepted"), update


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
    return ClientDetail.of(
        client,
        profile=Profile.of(client),
        scores=[ScorePoint.of(s) for s in scores],
        emails=[EmailSummary.of(e) for e in emails],
        live_state=live,
        live_state_reason=reason,
    )
