"""The API's database reads: filtered, keyset-paginated lists and detail pieces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    exists,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from api.pagination import bad_cursor, decode_cursor, encode_cursor
from core.store.models import (
    SEARCH_INDEX,
    SEARCH_INDEX_TABLE,
    Client,
    ClientSearch,
    Email,
    EmailEvent,
    EngagementScore,
)

SCORE_HISTORY = 100
CLIENT_EMAILS = 50


MAX_TERMS = 5  # words of a search that count
TRIGRAM = 3  # the shortest word SQLite's trigram index finds; shorter words are matched by LIKE


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

    def __post_init__(self) -> None:
        # A NUL separates words like a space: no stored text or id holds one (the API refuses
        # it), PostgreSQL cannot compare with one, and FTS5 would read it as the end of a phrase.
        object.__setattr__(self, "q", self.q.replace("\x00", " ").strip())

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

    def matching_ids(self, dialect: str, after: str | None = None) -> Select[str] | CompoundSelect[str]:
        """The ids of the matches (past ``after``), in whatever order is cheapest. A search
        reads the narrow ``client_search`` (on SQLite, through its trigram index when a word
        is long enough) and joins clients only for the other filters."""
        if not self.q:
            where = self.conditions(dialect)
            where += [Client.id > after] if after is not None else []
            return select(Client.id).where(*where)
        others = replace(self, q="").conditions(dialect)
        others += [ClientSearch.client_id > after] if after is not None else []
        if dialect == "sqlite" and any(len(word) >= TRIGRAM for word in _words(self.q)):
            branches = _indexed_search(self.q)
        else:
            branches = [select(ClientSearch.client_id).where(_search_text(self.q, dialect))]
        if others:
            branches = [b.join(Client, Client.id == ClientSearch.client_id).where(*others) for b in branches]
        return branches[0] if len(branches) == 1 else union_all(*branches)


def _unindexed(column: Any) -> Any:
    """``+column``: the same value (unary plus is a no-op in SQLite, on text too), but SQLite
    no longer considers the column's indexes for the term."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(column: QueryableAttribute[Any], word: str, dialect: str) -> ColumnElement[bool]:
    """``word`` anywhere in ``column``. SQLite's LIKE ignores ASCII case already (and lower()
    on every row would cost a function call a row); PostgreSQL needs ILIKE."""
    if dialect == "sqlite":
        return column.like(_like(word), escape="\\")
    return column.ilike(_like(word), escape="\\")


def _words(q: str) -> list[str]:
    return q.split()[:MAX_TERMS]  # str.split() splits at the separator too


def _search(q: str, dialect: str) -> ColumnElement[bool]:
    """Every word must appear in the first name, last name or email; or the exact client id."""
    fields = (Client.first_name, Client.last_name, Client.email)
    terms = [or_(*(_matches(c, word, dialect) for c in fields)) for word in _words(q)]
    return or_(and_(*terms), Client.id == q)


def _search_text(q: str, dialect: str) -> ColumnElement[bool]:
    """``_search`` on ``client_search``: the three fields are one text there, joined by a
    separator no word contains, so a word in any field is a word in the text."""
    terms = [_matches(ClientSearch.text, word, dialect) for word in _words(q)]
    return or_(and_(*terms), ClientSearch.client_id == q)


def _indexed_search(q: str) -> list[Select[str]]:
    """``_search_text`` on SQLite, as two disjoint queries: the words of three characters
    or more looked up in the trigram index (any case; every word a substring of the text),
    shorter ones matched by LIKE on the rows it finds; and the exact id, unless that client
    matched the words already (so no id is listed twice)."""
    words = _words(q)
    phrases = " ".join('"' + word.replace('"', '""') + '"' for word in words if len(word) >= TRIGRAM)
    match = SEARCH_INDEX.c[SEARCH_INDEX_TABLE].op("MATCH")(phrases)
    short = [_matches(ClientSearch.text, word, "sqlite") for word in words if len(word) < TRIGRAM]
    found = (
        select(ClientSearch.client_id)
        .join_from(SEARCH_INDEX, ClientSearch, ClientSearch.id == SEARCH_INDEX.c.rowid)
        .where(match, *short)
    )
    in_index = exists().where(SEARCH_INDEX.c.rowid == ClientSearch.id, match)
    exact = select(ClientSearch.client_id).where(ClientSearch.client_id == q, not_(and_(in_index, *short)))
    return [found, exact]


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
    after = decode_cursor(cursor, 1)[0] if cursor is not None else None
    page = [Client.id > after] if after is not None else []
    where = filters.conditions(dialect) + page
    probe = limit + 1 if filters.q else PROBE  # a search: one page's worth
    ids = list(await session.scalars(filters.matching_ids(dialect, after).limit(probe)))
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
