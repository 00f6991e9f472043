"""Read-model queries behind the dashboard pages, written to stay fast at 50,000 clients.

Aggregates run in the database (GROUP BY on indexed columns); lists are paginated;
nothing loads a whole table into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from api.queries import ClientFilters
from core.domain.uplift import WINDOWS, Arm, Counts
from core.store.db import UTCDateTime
from core.store.models import Client, Email, EmailEvent, EngagementScore, Order

TIERS = ("active", "cooling", "at_risk", "lapsed")
PAGE_SIZE = 50
QUEUE_PAGE_SIZE = 20
HISTOGRAM_BINS = 10
WEEKS = 26


@dataclass(frozen=True)
class Overview:
    tiers: dict[str, int]
    segments: list[tuple[str, int]]
    email_status: list[tuple[str, int]]
    histogram: list[int]
    at_risk_weeks: list[tuple[datetime, int]]
    total: int

    @property
    def scored(self) -> int:
        """Clients with a tier (segments come later, from the nightly refit)."""
        return self.total - self.tiers.get("unscored", 0)


async def overview(session: AsyncSession, now: datetime) -> Overview:
    """Counts by tier, segment and email status, the score histogram, at-risk over time."""
    tiers = dict.fromkeys(TIERS, 0)
    for tier, count in await session.execute(select(Client.tier, func.count()).group_by(Client.tier)):
        tiers[tier or "unscored"] = count
    segments = await session.execute(
        select(Client.segment, func.count()).where(Client.segment.is_not(None)).group_by(Client.segment)
    )
    statuses = await session.execute(select(Email.status, func.count()).group_by(Email.status))
    return Overview(
        tiers=tiers,
        segments=sorted(((s or "", c) for s, c in segments), key=lambda sc: -sc[1]),
        email_status=sorted(((s, c) for s, c in statuses), key=lambda sc: -sc[1]),
        histogram=await score_histogram(session),
        at_risk_weeks=await at_risk_over_time(session, now),
        total=sum(tiers.values()),
    )


async def score_histogram(session: AsyncSession) -> list[int]:
    """Clients per 10-point score band, 0-9 ... 90-100."""
    band = _floor(Client.score / 10, session.get_bind().dialect.name)
    counts = [0] * HISTOGRAM_BINS
    rows = await session.execute(select(band, func.count()).where(Client.score.is_not(None)).group_by(band))
    for index, count in rows:
        # 100 falls in the top band, like 90-99
        counts[min(max(0, int(index)), HISTOGRAM_BINS - 1)] += count
    return counts


def days_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    """``later - earlier`` in (fractional) days, on either backend."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400.0


def sql_time(value: datetime, dialect: str) -> Any:
    """A timestamp as a bound value that compares with stored ones (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return literal(value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "), String())
    return literal(value, UTCDateTime())


def _floor(value: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """floor() for non-negative values (SQLite may lack its math functions; CAST truncates)."""
    return func.cast(value, Integer) if dialect == "sqlite" else func.floor(value)


async def at_risk_over_time(session: AsyncSession, now: datetime) -> list[tuple[datetime, int]]:
    """Clients at risk at the end of each of the last 26 weeks, from the score history.

    A client counts from the score that moved them into ``at_risk`` until the score that
    moved them out: each score row contributes +1 on entry, -1 on exit (LAG over the
    client's own history). Clients never at risk contribute nothing, so only their
    histories are read: two indexes make this an index-only scan.
    """
    dialect = session.get_bind().dialect.name
    since = now - timedelta(weeks=WEEKS)
    es = EngagementScore
    ever = select(es.client_id).where(es.tier == "at_risk")
    previous = func.lag(es.tier).over(partition_by=es.client_id, order_by=es.scored_at)
    delta = case((es.tier == "at_risk", 1), else_=0) - case((previous == "at_risk", 1), else_=0)
    changes = select(es.scored_at.label("at"), delta.label("delta")).where(es.client_id.in_(ever)).subquery()
    start = sql_time(since, dialect)
    week = _floor(days_between(changes.c.at, start, dialect) / 7, dialect)
    bucket = case((changes.c.at < start, -1), else_=week)
    rows = await session.execute(
        select(bucket, func.sum(changes.c.delta)).where(changes.c.delta != 0).group_by(bucket)
    )
    deltas = {int(b): int(d) for b, d in rows}
    running = deltas.get(-1, 0)
    series = []
    for index in range(WEEKS):
        running += deltas.get(index, 0)
        series.append((since + timedelta(weeks=index + 1), running))
    return series


@dataclass(frozen=True)
class ClientFilter(ClientFilters):
    """The clients page's request: the API's filters (search included), a sort and a page."""

    sort: str = "score"
    page: int = 1


SORT_COLUMNS: dict[str, Any] = {
    "score": Client.score,
    "last_order": Client.last_order_at,
    "name": Client.last_name,
    "orders": Client.order_count,
}


def _order(sort: str, dialect: str) -> list[Any]:
    """Sort with clients lacking the value last, then by id so pages never overlap.

    NULLS LAST is only spelled out where it is not the backend's own order (SQLite puts
    NULL first ascending, PostgreSQL first descending): spelled out, no index can serve it.
    """
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.lstrip("-"), Client.score)
    key = column.desc() if descending else column.asc()
    nulls_first_natively = descending if dialect != "sqlite" else not descending
    if nulls_first_natively:
        key = key.nulls_last()
    return [key, Client.id.desc() if descending else Client.id]


async def list_clients(session: AsyncSession, f: ClientFilter) -> tuple[list[Client], int]:
    """One page of clients matching the filter, and how many match in all."""
    dialect = session.get_bind().dialect.name
    conditions = f.conditions(dialect)
    where = and_(*conditions) if conditions else literal_column("1") == 1
    total = await session.scalar(select(func.count()).select_from(Client).where(where)) or 0
    query: Select[Client] = (
        select(Client)
        .where(where)
        .order_by(*_order(f.sort, dialect))
        .limit(PAGE_SIZE)
        .offset((f.page - 1) * PAGE_SIZE)
    )
    return list((await session.scalars(query)).all()), total


async def segments(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(Client.segment).where(Client.segment.is_not(None)).distinct())
    return sorted(s for s in rows if s)


@dataclass
class EmailStory:
    email: Email
    events: list[EmailEvent] = field(default_factory=list)


@dataclass(frozen=True)
class ClientDetail:
    client: Client
    scores: list[EngagementScore]
    orders: list[Order]
    emails: list[EmailStory]


async def client_detail(session: AsyncSession, client_id: str, max_scores: int = 120) -> ClientDetail | None:
    """Profile, recent score history (oldest first), recent orders and the email timeline."""
    client = await session.get(Client, client_id)
    if client is None:
        return None
    scores = await session.scalars(
        select(EngagementScore)
        .where(EngagementScore.client_id == client_id)
        .order_by(EngagementScore.scored_at.desc())
        .limit(max_scores)
    )
    orders = await session.scalars(
        select(Order).where(Order.client_id == client_id).order_by(Order.placed_at.desc()).limit(50)
    )
    emails = await session.scalars(
        select(Email).where(Email.client_id == client_id).order_by(Email.created_at.desc()).limit(50)
    )
    stories = {e.id: EmailStory(e) for e in emails}
    if stories:
        events = await session.scalars(
            select(EmailEvent)
            .where(EmailEvent.email_id.in_(list(stories)))
            .order_by(EmailEvent.at, EmailEvent.id)
        )
        for event in events:
            stories[event.email_id].events.append(event)
    return ClientDetail(client, list(scores)[::-1], list(orders), list(stories.values()))


async def pending_emails(session: AsyncSession, page: int) -> tuple[list[tuple[Email, Client]], int]:
    """Drafts awaiting approval, oldest first (they expire first)."""
    pending = Email.status == "pending_approval"
    total = await session.scalar(select(func.count()).select_from(Email).where(pending)) or 0
    rows = await session.execute(
        select(Email, Client)
        .join(Client, Client.id == Email.client_id)
        .where(pending)
        .order_by(Email.created_at, Email.id)
        .limit(QUEUE_PAGE_SIZE)
        .offset((page - 1) * QUEUE_PAGE_SIZE)
    )
    return [(e, c) for e, c in rows], total


async def email_with_client(session: AsyncSession, email_id: str) -> tuple[Email, Client] | None:
    row = await session.execute(
        select(Email, Client).join(Client, Client.id == Email.client_id).where(Email.id == email_id)
    )
    found = row.first()
    return (found[0], found[1]) if found else None


async def uplift_counts(
    session: AsyncSession, now: datetime, windows: Sequence[int] = WINDOWS
) -> tuple[Counts, int]:
    """Per arm and window: (reordered within it, clients whose window has closed); and episodes.

    One episode per client: their first re-engagement email that was sent (emailed) or
    held out (holdout), anchored at the draft; the same rules as ``core.domain.uplift.Episode``.
    """
    dialect = session.get_bind().dialect.name
    episode = Email.status.in_(("sent", "holdout"))
    anchors = (
        select(Email.client_id, func.min(Email.created_at).label("anchor"))
        .where(episode)
        .group_by(Email.client_id)
        .subquery()
    )
    # The arm of that first email: a client held out by an earlier tool (imported) and emailed
    # by Rekindle later is one holdout episode, not one in each arm. min() settles a tie.
    first = (
        select(anchors.c.client_id, anchors.c.anchor, func.min(Email.status).label("status"))
        .join(Email, and_(Email.client_id == anchors.c.client_id, Email.created_at == anchors.c.anchor))
        .where(episode)
        .group_by(anchors.c.client_id, anchors.c.anchor)
        .subquery()
    )
    reorder = (
        select(func.min(Order.placed_at))
        .where(Order.client_id == first.c.client_id, Order.placed_at > first.c.anchor)
        .scalar_subquery()
    )
    timed = select(
        first.c.status,
        days_between(sql_time(now, dialect), first.c.anchor, dialect).label("age"),
        days_between(reorder, first.c.anchor, dialect).label("gap"),
    ).subquery()
    columns: list[Any] = [timed.c.status, func.count()]
    for days in windows:
        closed = timed.c.age >= days
        columns.append(func.sum(case((closed, 1), else_=0)))
        columns.append(func.sum(case((and_(closed, timed.c.gap <= days), 1), else_=0)))
    rows = await session.execute(select(*columns).group_by(timed.c.status))
    counts: Counts = {}
    episodes = 0
    for status, total, *sums in rows:
        arm: Arm = "emailed" if status == "sent" else "holdout"
        episodes += total
        for i, days in enumerate(windows):
            counts[(arm, days)] = (int(sums[2 * i + 1] or 0), int(sums[2 * i] or 0))
    return counts, episodes
