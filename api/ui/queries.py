"""Read-model queries behind the dashboard pages, written to stay fast at 50,000 clients.

Aggregates run in the database (GROUP BY on indexed columns); lists are paginated;
nothing loads a whole table into Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Client, Email, EmailEvent, EngagementScore, Order
from core.uplift import Arm, Episode

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
    band = func.cast(func.floor(Client.score / 10), Client.order_count.type)
    counts = [0] * HISTOGRAM_BINS
    rows = await session.execute(select(band, func.count()).where(Client.score.is_not(None)).group_by(band))
    for index, count in rows:
        # 100 falls in the top band, like 90-99
        counts[min(max(0, int(index)), HISTOGRAM_BINS - 1)] += count
    return counts


def _week_index(column: Any, since: datetime, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        # Stored as naive UTC text; julianday reads it directly.
        start = since.replace(tzinfo=None).isoformat(sep=" ")
        return func.cast((func.julianday(column) - func.julianday(start)) / 7, Client.order_count.type)
    return func.floor(func.extract("epoch", column - since) / (7 * 86400))


async def at_risk_over_time(session: AsyncSession, now: datetime) -> list[tuple[datetime, int]]:
    """Clients at risk at the end of each of the last 26 weeks, from the score history.

    A client counts from the score that moved them into ``at_risk`` until the score that
    moved them out: each score row contributes +1 on entry, -1 on exit (found with LAG
    over the client's own history, which the unique (client_id, scored_at) index orders).
    """
    since = now - timedelta(weeks=WEEKS)
    previous = func.lag(EngagementScore.tier).over(
        partition_by=EngagementScore.client_id, order_by=EngagementScore.scored_at
    )
    entered = case((EngagementScore.tier == "at_risk", 1), else_=0)
    was = case((previous == "at_risk", 1), else_=0)
    changes = select(EngagementScore.scored_at.label("at"), (entered - was).label("delta")).subquery()
    week = _week_index(changes.c.at, since, session.get_bind().dialect.name)
    bucket = case((changes.c.at < since, -1), else_=week)
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
class ClientFilter:
    q: str = ""
    tier: str = ""
    segment: str = ""
    score_min: float | None = None
    score_max: float | None = None
    last_order_after: datetime | None = None
    last_order_before: datetime | None = None
    sort: str = "score"
    page: int = 1


SORTS: dict[str, Any] = {
    "score": Client.score.asc().nulls_last(),
    "-score": Client.score.desc().nulls_last(),
    "last_order": Client.last_order_at.asc().nulls_last(),
    "-last_order": Client.last_order_at.desc().nulls_last(),
    "name": Client.last_name.asc().nulls_last(),
    "-name": Client.last_name.desc().nulls_last(),
    "orders": Client.order_count.asc(),
    "-orders": Client.order_count.desc(),
}


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(f: ClientFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.q:
        pattern = _like(f.q)
        name = func.lower(func.coalesce(Client.first_name, "") + " " + func.coalesce(Client.last_name, ""))
        where.append(
            or_(
                name.like(pattern, escape="\\"),
                func.lower(Client.email).like(pattern, escape="\\"),
                Client.id == f.q,
            )
        )
    if f.tier:
        where.append(Client.tier == f.tier)
    if f.segment:
        where.append(Client.segment == f.segment)
    if f.score_min is not None:
        where.append(Client.score >= f.score_min)
    if f.score_max is not None:
        where.append(Client.score <= f.score_max)
    if f.last_order_after is not None:
        where.append(Client.last_order_at >= f.last_order_after)
    if f.last_order_before is not None:
        where.append(Client.last_order_at < f.last_order_before)
    return where


async def list_clients(session: AsyncSession, f: ClientFilter) -> tuple[list[Client], int]:
    """One page of clients matching the filter, and how many match in all."""
    where = and_(*_conditions(f)) if _conditions(f) else literal_column("1") == 1
    total = await session.scalar(select(func.count()).select_from(Client).where(where)) or 0
    query: Select[Client] = (
        select(Client)
        .where(where)
        .order_by(SORTS.get(f.sort, SORTS["score"]), Client.id)
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


async def uplift_episodes(session: AsyncSession) -> list[Episode]:
    """Each client's first re-engagement email that was sent or held out, with the first
    order placed after the draft."""
    reorder = (
        select(func.min(Order.placed_at))
        .where(Order.client_id == Email.client_id, Order.placed_at > Email.created_at)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Email.client_id, Email.status, Email.created_at, reorder)
        .where(Email.status.in_(("sent", "holdout")))
        .order_by(Email.client_id, Email.created_at)
    )
    episodes: dict[str, Episode] = {}
    for client_id, status, anchor, reordered in rows:
        if client_id not in episodes:
            arm: Arm = "emailed" if status == "sent" else "holdout"
            episodes[client_id] = Episode(arm, anchor, _aware(reordered))
    return list(episodes.values())


def _aware(value: Any) -> datetime | None:
    """A scalar subquery loses the column type: parse SQLite's text and attach UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
