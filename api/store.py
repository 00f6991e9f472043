"""The API's own database writes: profiles, opt-outs and imported past emails (idempotent).

Orders are never written here: they go through the workflow, which records them.
Imported emails are history from a previous tool, not work in flight, so the API
writes them itself (keyed by email id) after telling the workflow what it needs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store import timeline
from core.store.clients import client_row
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, ConsentEvent, Email, Suppression
from core.store.outbox import emit
from core.store.timeline import TimelineEvent

SUPPRESSION_REASON = "unsubscribed"
IMPORT_GENERATOR = "import"


class PastEmail(Protocol):
    """What an imported email carries (the API's validated import item)."""

    @property
    def email_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def arm(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def drafted_at(self) -> datetime: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def subject(self) -> str | None: ...


async def record_opt_out(
    sessions: async_sessionmaker[AsyncSession], client_id: str, source: str = "one_click"
) -> datetime:
    """Set ``clients.unsubscribed_at`` (first time only, with its source in the consent history)
    and the suppression row; return the time."""
    async with transaction(sessions) as session:
        return await opt_out(session, client_id, utcnow(), source=source)


async def opt_out(session: AsyncSession, client_id: str, now: datetime, source: str) -> datetime:
    """The opt-out in ``session``'s transaction; the first one is recorded in the consent history
    and queues ``client.unsubscribed``."""
    client = await client_row(session, client_id)
    if client.unsubscribed_at is None:
        client.unsubscribed_at = now
        client.updated_at = now
        session.add(ConsentEvent(client_id=client_id, action="unsubscribed", source=source, at=now))
        await emit(
            session,
            "client.unsubscribed",
            key=client_id,
            occurred_at=now,
            client_id=client_id,
            data={"source": source},
        )
    await session.execute(
        insert_ignoring_conflicts(
            session.get_bind().dialect.name,
            Suppression.__table__,
            {
                "client_id": client_id,
                "email": client.email,
                "reason": SUPPRESSION_REASON,
                "created_at": now,
            },
            ["client_id", "reason"],
        )
    )
    return client.unsubscribed_at


async def known_clients(session: AsyncSession, client_ids: Collection[str]) -> set[str]:
    """The ids among ``client_ids`` that have a row in the read model."""
    if not client_ids:
        return set()
    return set(await session.scalars(select(Client.id).where(Client.id.in_(list(client_ids)))))


async def emails_by_id(session: AsyncSession, email_ids: Collection[str]) -> dict[str, Email]:
    if not email_ids:
        return {}
    rows = await session.scalars(select(Email).where(Email.id.in_(list(email_ids))))
    return {row.id: row for row in rows}


async def store_imported(
    sessions: async_sessionmaker[AsyncSession], emails: Sequence[PastEmail], actor: str
) -> set[str]:
    """Insert each email (unless its id exists) with its timeline; return the ids inserted."""
    inserted: set[str] = set()
    if not emails:
        return inserted
    now = utcnow()
    async with transaction(sessions) as session:
        dialect = session.get_bind().dialect.name
        for email in emails:
            row = _imported_row(email, now)
            result = await session.execute(insert_ignoring_conflicts(dialect, Email.__table__, row, ["id"]))
            if not cast(CursorResult[Any], result).rowcount:
                continue  # stored meanwhile by a concurrent import: the caller compares
            inserted.add(email.email_id)
            await timeline.record(session, *_imported_events(email, actor, now))
    return inserted


def _imported_row(email: PastEmail, now: datetime) -> dict[str, Any]:
    return {
        "id": email.email_id,
        "client_id": email.client_id,
        "status": email.status,
        "subject": email.subject,
        "generator": IMPORT_GENERATOR,
        "holdout": email.arm == "holdout",
        "sent_at": email.sent_at,
        "created_at": email.drafted_at,
        "updated_at": now,
    }


def _imported_events(email: PastEmail, actor: str, now: datetime) -> list[TimelineEvent]:
    """The story as it happened (drafted, then sent or held out), then the import itself."""
    ids = (email.email_id, email.client_id)
    source = {"source": IMPORT_GENERATOR}
    outcome = (
        TimelineEvent(*ids, "sent", email.sent_at, None, source)
        if email.sent_at is not None
        else TimelineEvent(*ids, "holdout", email.drafted_at, None, {"reason": "held out"})
    )
    return [
        TimelineEvent(*ids, "drafted", email.drafted_at, None, source),
        outcome,
        TimelineEvent(*ids, "imported", now, actor, {"arm": email.arm}),
    ]
