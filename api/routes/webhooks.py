"""Webhook endpoints (admin): register, list, see deliveries, disable, enable, replay.

Registration returns the ``whsec_`` signing secret once. Each endpoint has its own
delivery workflow on the webhook task queue (``workflows/ops.py``); this module only
changes the endpoint's row and makes sure that workflow runs.
"""

from __future__ import annotations

import base64
import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import func, select
from starlette.convertors import Convertor, register_url_convertor

from api import examples, ops_examples
from api.auth import AdminKey
from api.deps import SessionDep, StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND_RESPONSE, ApiError, FieldError
from api.ops_temporal import start_delivery
from api.pagination import bad_cursor, decode_cursor, encode_cursor
from api.routes.actions import key_actor
from api.webhook_schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPage,
    ReplayIn,
)
from core.runtime.webhook_urls import url_form_problem, url_problem
from core.store import audit
from core.store.db import transaction, utcnow
from core.store.ops_models import OutboxEvent, WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/v1", tags=["webhooks"])
RESPONSES: dict[int | str, dict[str, object]] = {**AUTH_RESPONSES, **NOT_FOUND_RESPONSE, **ERROR_RESPONSES}
ONE = {**RESPONSES, **examples.ok(ops_examples.ENDPOINT)}
ENDPOINT_ID = r"ep_[a-z0-9]{20}"


class _EndpointId(Convertor[str]):
    """Routes match only an endpoint id: ``GET /v1/webhooks/ses`` is then the POST-only
    feedback route's 405, not this route's 422 for a malformed id (and so for ``...:disable``)."""

    regex = ENDPOINT_ID

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("endpoint_id", _EndpointId())
EndpointIdPath = Annotated[str, Path(pattern=f"^{ENDPOINT_ID}$", description="The endpoint's id")]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@router.post(
    "/webhooks",
    status_code=201,
    responses={**RESPONSES, **examples.ok(ops_examples.ENDPOINT_CREATED, 201)},
    summary="Register a webhook endpoint",
)
async def create_endpoint(
    body: EndpointIn, request: Request, state: StateDep, key: AdminKey
) -> EndpointCreated:
    """Events from now on are delivered to ``url``, signed with the returned secret (shown once)."""
    problem = url_form_problem(body.url) or await url_problem(
        body.url, state.settings.webhooks.allow_private_urls
    )
    if problem is not None:
        raise ApiError(
            422,
            "validation_error",
            "the request is not valid",
            [FieldError(field="body.url", reason=problem)],
        )
    actor = key_actor(key, request)
    now = utcnow()
    endpoint_id = "ep_" + secrets.token_hex(10)
    async with transaction(state.sessions) as session:
        head = await session.scalar(select(func.max(OutboxEvent.seq))) or 0
        row = WebhookEndpoint(
            id=endpoint_id,
            url=body.url,
            event_types=list(body.event_types),
            secret=new_secret(),
            enabled=True,
            cursor=head,
            description=body.description,
            created_at=now,
            created_by=actor.name,
        )
        session.add(row)
        session.add(
            audit.entry(
                actor,
                "webhook.create",
                target_type="webhook",
                target_id=endpoint_id,
                at=now,
                detail={"event_types": list(body.event_types)},
            )
        )
    try:
        await start_delivery(state.temporal, state.settings, endpoint_id)
    except ApiError:
        async with transaction(state.sessions) as session:  # nothing half-made: the caller retries
            await session.delete(await session.get(WebhookEndpoint, endpoint_id))
        raise
    return EndpointCreated.of(row)


@router.get(
    "/webhooks",
    responses={**RESPONSES, **examples.ok(ops_examples.ENDPOINT_PAGE)},
    summary="List webhook endpoints",
)
async def list_endpoints(session: SessionDep, _key: AdminKey) -> EndpointPage:
    rows = await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))
    return EndpointPage(items=[EndpointOut.of(r) for r in rows])


@router.get("/webhooks/{endpoint_id:endpoint_id}", responses=ONE, summary="One webhook endpoint")
async def get_endpoint(endpoint_id: EndpointIdPath, session: SessionDep, _key: AdminKey) -> EndpointOut:
    return EndpointOut.of(await _endpoint(session, endpoint_id))


@router.get(
    "/webhooks/{endpoint_id:endpoint_id}/deliveries",
    responses={**RESPONSES, **examples.ok(ops_examples.DELIVERY_PAGE)},
    summary="Deliveries and failures",
)
async def list_deliveries(
    endpoint_id: EndpointIdPath,
    session: SessionDep,
    _key: AdminKey,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeliveryPage:
    """Newest first; ``pending`` ones are being retried (``attempts``, ``last_error``)."""
    await _endpoint(session, endpoint_id)
    query = (
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.seq == WebhookDelivery.event_seq)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor is not None:
        (before,) = decode_cursor(cursor, 1)
        if not before.isdigit():
            raise bad_cursor()
        query = query.where(WebhookDelivery.id < int(before))
    rows = (await session.execute(query)).all()
    items = [DeliveryOut.of(d, event_id=event_id, event_type=type_) for d, event_id, type_ in rows[:limit]]
    more = len(rows) > limit
    return DeliveryPage(items=items, next_cursor=encode_cursor(str(rows[limit - 1][0].id)) if more else None)


@router.post("/webhooks/{endpoint_id:endpoint_id}:disable", responses=ONE, summary="Stop delivering")
async def disable_endpoint(
    endpoint_id: EndpointIdPath, request: Request, state: StateDep, key: AdminKey
) -> EndpointOut:
    """Deliveries stop within a poll; events keep accumulating and can be replayed later."""
    return await _set_enabled(state, endpoint_id, key_actor(key, request), enabled=False)


@router.post("/webhooks/{endpoint_id:endpoint_id}:enable", responses=ONE, summary="Resume delivering")
async def enable_endpoint(
    endpoint_id: EndpointIdPath, request: Request, state: StateDep, key: AdminKey
) -> EndpointOut:
    """Delivery resumes where it stopped (everything since is delivered)."""
    return await _set_enabled(state, endpoint_id, key_actor(key, request), enabled=True)


@router.post(
    "/webhooks/{endpoint_id:endpoint_id}:replay", responses=ONE, summary="Deliver again from a point in time"
)
async def replay_endpoint(
    endpoint_id: EndpointIdPath, body: ReplayIn, request: Request, state: StateDep, key: AdminKey
) -> EndpointOut:
    """Every subscribed event since ``since`` is sent again, in order (same ``webhook-id``)."""
    actor = key_actor(key, request)
    async with transaction(state.sessions) as session:
        row = await _endpoint(session, endpoint_id)
        before = select(func.max(OutboxEvent.seq)).where(OutboxEvent.occurred_at < body.since)
        row.cursor = await session.scalar(before) or 0
        row.enabled, row.disabled_at = True, None
        session.add(
            audit.entry(
                actor,
                "webhook.replay",
                target_type="webhook",
                target_id=endpoint_id,
                detail={"since": body.since.isoformat()},
            )
        )
    await start_delivery(state.temporal, state.settings, endpoint_id)
    return EndpointOut.of(row)


async def _set_enabled(
    state: StateDep, endpoint_id: str, actor: audit.Actor, *, enabled: bool
) -> EndpointOut:
    async with transaction(state.sessions) as session:
        row = await _endpoint(session, endpoint_id)
        if row.enabled != enabled:
            row.enabled, row.disabled_at = enabled, None if enabled else utcnow()
            action = "webhook.enable" if enabled else "webhook.disable"
            session.add(audit.entry(actor, action, target_type="webhook", target_id=endpoint_id))
    if enabled:
        await start_delivery(state.temporal, state.settings, endpoint_id)
    return EndpointOut.of(row)


async def _endpoint(session: SessionDep, endpoint_id: str) -> WebhookEndpoint:
    row = await session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise ApiError(404, "not_found", "no such webhook endpoint")
    return row
