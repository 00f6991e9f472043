"""The audit log: who did what, when and from where. Rows are only ever inserted.

Actions are dotted names (``ui.sign_in``, ``client.pause``, ``email.approve``,
``api_key.create``, ``ops_user.set_role``...). ``outcome`` is ``ok``, ``denied`` (refused:
wrong password, missing role, state does not allow) or ``failed``. ``detail`` never holds
secrets or a client's personal data: ids, reasons typed by ops, roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import transaction, utcnow
from core.store.ops_models import AuditEntry

ActorKind = Literal["ops_user", "api_key", "system"]
Outcome = Literal["ok", "denied", "failed"]


@dataclass(frozen=True)
class Actor:
    """Who acts: an ops user (by username), an API key (by name) or the system; and from where."""

    name: str
    kind: ActorKind
    source: str | None = None


CLI = Actor("cli", "system", "local")


def entry(
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: Outcome = "ok",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """A new row, for the caller to add to the transaction that made the change."""
    return AuditEntry(
        at=at or utcnow(),
        actor=actor.name[:128],
        actor_kind=actor.kind,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        source=(actor.source or "")[:64] or None,
        detail=detail,
    )


async def record(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, action: str, **fields: Any
) -> None:
    """Write one row in its own transaction (for refusals and events with no other write)."""
    async with transaction(sessions) as session:
        session.add(entry(actor, action, **fields))


async def record_email(
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    action: str,
    email_id: str,
    client_id: str,
    outcome: Outcome = "ok",
    **detail: Any,
) -> None:
    """An action on one email (its client id in the detail, so a client's story can be found)."""
    detail = {**detail, "client_id": client_id}
    await record(
        sessions, actor, action, target_type="email", target_id=email_id, outcome=outcome, detail=detail
    )


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_query(filters: AuditFilters, before_id: int | None, limit: int) -> Select[AuditEntry]:
    """Newest first by id (ids grow with time), keyset: ``before_id`` is the previous page's last."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in (
        (AuditEntry.actor, filters.actor),
        (AuditEntry.action, filters.action),
        (AuditEntry.target_id, filters.target_id),
        (AuditEntry.outcome, filters.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return query


async def list_entries(
    session: AsyncSession, filters: AuditFilters, before_id: int | None, limit: int
) -> tuple[list[AuditEntry], int | None]:
    """One page and the id to continue before (``None`` on the last page)."""
    rows = list(await session.scalars(audit_query(filters, before_id, limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
