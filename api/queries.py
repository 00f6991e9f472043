"""The API's database reads: filtered, keyset-paginated lists and detail pieces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

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

    def conditions(self, dialect: str, indexes: bool = True) -> list[ColumnElement[bool]]:
        """The WHERE terms; ``indexes=False`` keeps SQLite from serving them by an index."""
        column: Callable[[Any], Any] = _unindexed if not indexes else lambda c: c
        where: list[ColumnElement[bool]] = []
        if self.q:
            where.append(_search(self.q, dialect))
        if self.tier:
            where.append(column(Client.tier) == self.tier)
        if self.segment:
            where.append(column(Client.segment) == self.segment)
        if self.score_min is not None:
            where.append(column(Client.score) >= self.score_min)
        if self.score_max is not None:
            where.append(column(Client.score) <= self.score_max)
        if self.holdout is not None:
            where.append(Client.holdout == self.holdout)
        if self.last_order_before is not None:
            where.append(column(Client.last_order_at) < self.last_order_before)
        if self.last_order_after is not None:
            where.append(column(Client.last_order_at) >= self.last_order_after)
        return where


def _unindexed(column: Any) -> Any:
    """``+column``: the same value (unary plus is a no-op in SQLite, on text too), but SQLite
    no longer considers the column's indexes for the term."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


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


PROBE = 2_000  # matches that make a filter "dense": see list_clients


async def list_clients(
    session: AsyncSession, filters: ClientFilters, limit: int, cursor: str | None
) -> tuple[list[Client], str | None]:
    """Clients by id (a stable order), ``limit`` at a time.

    A probe first collects the ids of up to ``PROBE`` matches (a search: one page's) in
    whatever order is cheapest (a filtered column's index, or the table). Fewer than that:
    the page is sorted from those ids. More: matches are dense, and on SQLite the filter
    is written as ``+column`` so SQLite walks clients in id order and stops at the page,
    instead of sorting every match of a range filter by id (50,000 matches at a million
    clients took 100-300 ms). PostgreSQL weighs the LIMIT against the filter's selectivity
    itself.
    """
    dialect = session.get_bind().dialect.name
    page: list[ColumnElement[bool]] = []
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        page.append(Client.id > after)
    where = filters.conditions(dialect) + page
    # A search has no index: any order costs the rows it reads, so stop at one page's worth.
    probe = limit + 1 if filters.q else PROBE
    ids = list(await session.scalars(select(Client.id).where(*where).limit(probe)))
    if len(ids) < probe:
        where = [Client.id.in_(ids)]
    elif dialect == "sqlite":
        where = filters.conditions(dialect, indexes=False) + page
    query = select(Client).where(*where).order_by(Client.id).limit(limit + 1)
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
