"""The API's database reads: filtered, keyset-paginated lists and detail pieces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import bad_cursor, decode_cursor, encode_cursor
from core.store.models import Client, Email, EmailEvent, EngagementScore

SCORE_HISTORY = 100
CLIENT_EMAILS = 50


MAX_TERMS = 5  # words of a search that count


@dataclass(frozen=True)
class ClientFilters:
    """The one client filter, for ``GET /v1/clients`` and the dashboard's clients page: the
    conditions that are set (None or empty: not filtering), combined with AND."""

    q: str = ""
    tier: str | None = None
    segment: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    holdout: bool | None = None
    last_order_before: datetime | None = None
    last_order_after: datetime | None = None

    def conditions(self, dialect: str) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.q:
            where.append(_search(self.q, dialect))
        if self.tier:
            where.append(Client.tier == self.tier)
        if self.segment:
            where.append(Client.segment == self.segment)
        if self.score_min is not None:
            where.append(Client.score >= self.score_min)
        if self.score_max is not None:
            where.append(Client.score <= self.score_max)
        if self.holdout is not None:
            where.append(Client.holdout == self.holdout)
        if self.last_order_before is not None:
            where.append(Client.last_order_at < self.last_order_before)
        if self.last_order_after is not None:
            where.append(Client.last_order_at >= self.last_order_after)
        return where


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(q: str, dialect: str) -> ColumnElement[bool]:
    """Every word must appear in the first name, last name or email; or the exact client id.

    SQLite's LIKE ignores ASCII case already (and lower() on every row would cost a
    full-table function call); PostgreSQL needs ILIKE.
    """
    terms = []
    for word in q.split()[:MAX_TERMS]:
        pattern = _like(word)
        fields = (Client.first_name, Client.last_name, Client.email)
        if dialect == "sqlite":
            terms.append(or_(*(c.like(pattern, escape="\\") for c in fields)))
        else:
            terms.append(or_(*(c.ilike(pattern, escape="\\") for c in fields)))
    return or_(and_(*terms), Client.id == q)


async def list_clients(
    session: AsyncSession, filters: ClientFilters, limit: int, cursor: str | None
) -> tuple[list[Client], str | None]:
    """Clients by id (a stable order), ``limit`` at a time."""
    dialect = session.get_bind().dialect.name
    query = select(Client).where(*filters.conditions(dialect)).order_by(Client.id).limit(limit + 1)
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(Client.id > after)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more else None


async def list_emails(
    session: AsyncSession, status: str | None, client_id: str | None, limit: int, cursor: str | None
) -> tuple[list[Email], str | None]:
    """Emails oldest first (the approval queue's natural order), by (created_at, id)."""
    query = select(Email).order_by(Email.created_at, Email.id).limit(limit + 1)
    if status is not None:
        query = query.where(Email.status == status)
    if client_id is not None:
        query = query.where(Email.client_id == client_id)
    if cursor is not None:
        at_text, after = decode_cursor(cursor, 2)
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise bad_cursor() from None
        if at.tzinfo is None:
            raise bad_cursor()
        query = query.where(or_(Email.created_at > at, and_(Email.created_at == at, Email.id > after)))
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at.isoformat(), rows[-1].id) if more else None
    return rows, next_cursor


async def score_history(session: AsyncSession, client_id: str) -> list[EngagementScore]:
    query = (
        select(EngagementScore)
        .where(EngagementScore.client_id == client_id)
        .order_by(EngagementScore.scored_at.desc())
        .limit(SCORE_HISTORY)
    )
    return list((await session.execute(query)).scalars())


async def client_emails(session: AsyncSession, client_id: str) -> list[Email]:
    query = (
        select(Email)
        .where(Email.client_id == client_id)
        .order_by(Email.created_at.desc(), Email.id.desc())
        .limit(CLIENT_EMAILS)
    )
    return list((await session.execute(query)).scalars())


async def email_events(session: AsyncSession, email_id: str) -> list[EmailEvent]:
    query = select(EmailEvent).where(EmailEvent.email_id == email_id).order_by(EmailEvent.at, EmailEvent.id)
    return list((await session.execute(query)).scalars())
