"""Import past win-back emails from a previous email tool: ``POST /v1/emails:import``.

A retailer switching to Rekindle brings its earlier re-engagement sends and holdouts,
so the uplift report has episodes from day one. Each email becomes an ``emails`` row
(status ``sent`` or ``holdout``, generator ``import``, no body) with its timeline, and
an emailed one is signalled to the client's workflow (``past_email_sent``) first, so
the frequency cap counts it and the database never shows a send the workflow has not
heard of. Idempotent by ``email_id``; the same id with other content is a conflict.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from temporalio.service import RPCError

from api import examples
from api.auth import AdminKey
from api.batches import InvalidItem, KeepInvalid
from api.deps import StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS, FieldError
from api.store import IMPORT_GENERATOR, emails_by_id, known_clients, store_imported
from core.client_workflow import TemporalUnavailable, send_past_email
from core.contracts import ClientId, PastEmailSent
from core.db import utcnow
from core.logging import get_logger
from core.models import Email

router = APIRouter(prefix="/v1", tags=["emails"])
log = get_logger(__name__)
IMPORT_MAX = 1000
SIGNAL_CONCURRENCY = 32  # as for order batches: hide round trips, never monopolise the server
EMAIL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
STATUS_OF_ARM = {"emailed": "sent", "holdout": "holdout"}
ItemStatus = Literal["imported", "unchanged", "conflict", "unknown_client", "invalid", "unavailable"]
STATUSES: tuple[ItemStatus, ...] = (
    "imported",
    "unchanged",
    "conflict",
    "unknown_client",
    "invalid",
    "unavailable",
)

IMPORT_EXAMPLE = {
    "emails": [
        {
            "email_id": "mc-2025-10-winback-c-1001",
            "client_id": "c-1001",
            "arm": "emailed",
            "drafted_at": "2025-10-02T07:30:00Z",
            "sent_at": "2025-10-02T09:00:00Z",
            "subject": "We saved your size",
        },
        {
            "email_id": "mc-2025-10-winback-c-1002",
            "client_id": "c-1002",
            "arm": "holdout",
            "drafted_at": "2025-10-02T07:30:00Z",
        },
    ]
}


class ImportedEmail(BaseModel):
    """One past email: ``sent_at`` is required for the emailed arm and forbidden for holdout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email_id: Annotated[str, StringConstraints(pattern=EMAIL_ID_PATTERN)]
    client_id: ClientId
    arm: Literal["emailed", "holdout"]
    drafted_at: AwareDatetime
    sent_at: AwareDatetime | None = Field(default=None, validate_default=True)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = (
        None
    )

    @field_validator("drafted_at")
    @classmethod
    def _drafted_in_the_past(cls, value: datetime) -> datetime:
        if value > utcnow():
            raise ValueError("must be in the past")
        return value

    @field_validator("sent_at")
    @classmethod
    def _sent_matches_the_arm(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        arm, drafted_at = info.data.get("arm"), info.data.get("drafted_at")
        if arm == "holdout" and value is not None:
            raise ValueError("must be left out for the holdout arm: a held-out email was never sent")
        if arm == "emailed" and value is None:
            raise ValueError("is required for the emailed arm")
        if value is not None and value > utcnow():
            raise ValueError("must be in the past")
        if value is not None and drafted_at is not None and value < drafted_at:
            raise ValueError("must not be before drafted_at")
        return value

    @property
    def status(self) -> str:
        return STATUS_OF_ARM[self.arm]

    def matches(self, row: Email) -> bool:
        """The stored row says the same (times compared as instants)."""
        return (
            row.generator == IMPORT_GENERATOR
            and row.client_id == self.client_id
            and row.status == self.status
            and row.created_at == self.drafted_at
            and row.sent_at == self.sent_at
            and row.subject == self.subject
        )


class ImportBatch(BaseModel):
    emails: list[Annotated[ImportedEmail, KeepInvalid]] = Field(min_length=1, max_length=IMPORT_MAX)


class ImportItemResult(BaseModel):
    index: int
    email_id: str | None = None
    client_id: str | None = None
    status: ItemStatus
    errors: list[FieldError] = []


class ImportResult(BaseModel):
    imported: int
    unchanged: int
    conflict: int
    unknown_client: int
    invalid: int
    unavailable: int
    results: list[ImportItemResult]


@router.post(
    "/emails:import",
    responses={**examples.ok(examples.EMAIL_IMPORT), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Import up to 1,000 past win-back emails (sent or held out) from a previous tool",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": IMPORT_EXAMPLE}}}},
)
async def import_emails(
    batch: ImportBatch, state: StateDep, response: Response, key: AdminKey
) -> ImportResult:
    """Store each past email for the uplift report and the client's timeline; report per item.

    The client must already exist (``PUT /v1/clients/{id}`` or an order). An emailed
    item is told to the client's workflow first, so the frequency cap counts it.
    Re-importing an item changes nothing (``unchanged``); the same ``email_id`` with
    other content is a ``conflict``. A bad item does not sink the batch. Items
    Temporal could not take are ``unavailable``: send them again (the whole batch is
    fine). If nothing could be stored because Temporal is unreachable: 503, Retry-After.
    """
    # Every valid item starts as "imported"; the checks below settle what it really is.
    results = [_result(i, item) for i, item in enumerate(batch.emails)]
    todo = {r.index: item for r, item in zip(results, batch.emails, strict=True) if r.status == "imported"}
    todo = await _check_read_model(state, todo, results)
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)
    signalled = await asyncio.gather(*(_signal(state, gate, item) for item in todo.values()))
    for (index, _item), ok in zip(list(todo.items()), signalled, strict=True):
        if not ok:
            results[index].status = "unavailable"
            del todo[index]
    stored = await store_imported(state.sessions, list(todo.values()), key.name)
    for index, item in todo.items():
        if item.email_id not in stored:  # a concurrent import got there first
            _compare(results[index], item, (await _rows(state, [item.email_id])).get(item.email_id))
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    log.info("past emails imported", **counts)
    if counts["unavailable"]:
        if not counts["imported"] and not counts["unchanged"]:
            raise TemporalUnavailable()
        response.headers["Retry-After"] = str(TEMPORAL_RETRY_AFTER_SECONDS)
    return ImportResult(**counts, results=results)


def _result(index: int, item: ImportedEmail | InvalidItem) -> ImportItemResult:
    if isinstance(item, InvalidItem):
        return ImportItemResult(index=index, status="invalid", errors=item.fields)
    return ImportItemResult(index=index, email_id=item.email_id, client_id=item.client_id, status="imported")


async def _check_read_model(
    state: StateDep, todo: dict[int, ImportedEmail], results: list[ImportItemResult]
) -> dict[int, ImportedEmail]:
    """Drop repeated ids, unknown clients and ids already stored (unchanged or conflict)."""
    async with state.sessions() as session:
        clients = await known_clients(session, {item.client_id for item in todo.values()})
        existing = await emails_by_id(session, [item.email_id for item in todo.values()])
    first_index: dict[str, int] = {}
    left = {}
    for index, item in todo.items():
        result = results[index]
        earlier = first_index.setdefault(item.email_id, index)
        if earlier != index:
            result.status = "invalid"
            result.errors = [FieldError(field="email_id", reason=f"repeats item {earlier} of this batch")]
        elif item.client_id not in clients:
            result.status = "unknown_client"
            reason = "no such client: create it first (PUT /v1/clients/{client_id}) or send its orders"
            result.errors = [FieldError(field="client_id", reason=reason)]
        elif item.email_id in existing:
            _compare(result, item, existing[item.email_id])
        else:
            left[index] = item
    return left


def _compare(result: ImportItemResult, item: ImportedEmail, row: Email | None) -> None:
    if row is not None and item.matches(row):
        result.status = "unchanged"
        return
    result.status = "conflict"
    reason = "already stored with other content (client, arm, times or subject); email ids are unique"
    result.errors = [FieldError(field="email_id", reason=reason)]


async def _signal(state: StateDep, gate: asyncio.Semaphore, item: ImportedEmail) -> bool:
    """Tell the workflow of an emailed item; ``False`` if Temporal did not take it."""
    if item.sent_at is None:
        return True  # a holdout was never sent: nothing for the frequency cap
    async with gate:
        try:
            await send_past_email(
                state.temporal, state.start, item.client_id, PastEmailSent(sent_at=item.sent_at)
            )
        except (TemporalUnavailable, RPCError):
            return False
    return True


async def _rows(state: StateDep, email_ids: list[str]) -> dict[str, Email]:
    async with state.sessions() as session:
        return await emails_by_id(session, email_ids)
