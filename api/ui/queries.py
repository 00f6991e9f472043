"""Read-model queries behind the dashboard pages, written to stay fast at a million clients.

The overview's counts come from rollups kept current by triggers (``core/store/rollups.py``);
other aggregates run in the database; lists are paginated; nothing loads a whole table
into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.queries import ClientFilters
from core.domain.uplift import WINDOWS, Arm, Counts
from core.store import rollups
from core.store.models import Client, Email, EmailEvent, EngagementScore, Order, UpliftEpisode

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


async def overview(
    sessions: async_sessionmaker[AsyncSession], now: datetime, compact_after: int = rollups.COMPACT_AFTER
) -> Overview:
    """Counts by tier, segment and email status, the score histogram, at-risk over time:
    all from the rollups (``core/store/rollups.py``), so no table is scanned."""
    counts = await rollups.current(sessions, compact_after)
    tiers = dict.fromkeys(TIERS, 0)
    for tier, count in counts.of("tier").items():
        tiers[tier or "unscored"] = count
    return Overview(
        tiers=tiers,
        segments=sorted(counts.of("segment").items(), key=lambda sc: (-sc[1], sc[0])),
        email_status=sorted(counts.of("email_status").items(), key=lambda sc: (-sc[1], sc[0])),
        histogram=score_histogram(counts),
        at_risk_weeks=at_risk_over_time(counts, now),
        total=sum(tiers.values()),
    )


def score_histogram(counts: rollups.Rollups) -> list[int]:
    """Clients per 10-point score band, 0-9 ... 90-100."""
    histogram = [0] * HISTOGRAM_BINS
    for band, count in counts.of("score_band").items():
        histogram[int(band)] += count
    return histogram


def at_risk_over_time(counts: rollups.Rollups, now: datetime) -> list[tuple[datetime, int]]:
    """Clients at risk at the end of each of the last 26 weeks, the last ending today.

    Weeks end at midnight UTC: the rollup counts per day the clients who entered the
    at-risk tier minus those who left it (``at_risk_day``), so the count at a midnight is
    the sum over the days before it.
    """
    end = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time.min, tzinfo=UTC)
    points = [end - timedelta(weeks=WEEKS - 1 - index) for index in range(WEEKS)]
    deltas = sorted(counts.of("at_risk_day").items())
    series, running, position = [], 0, 0
    for point in points:
        day = point.date().isoformat()
        while position < len(deltas) and deltas[position][0] < day:
            running += deltas[position][1]
            position += 1
        series.append((point, running))
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


COUNT_CAP = 1_000  # matches counted one by one; past that the page says "1,000+"


@dataclass(frozen=True)
class ClientPage:
    rows: list[Client]
    total: int  # matches, or COUNT_CAP when ``capped``
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def more(self, page: int) -> bool:
        """Whether a page follows ``page`` (past the cap, whether this one was full)."""
        return page < self.pages or (self.capped and len(self.rows) == PAGE_SIZE)


async def list_clients(
    session: AsyncSession, f: ClientFilter, counts: rollups.Rollups | None = None
) -> ClientPage:
    """One page of clients matching the filter, and how many match in all.

    The count of every client, of a tier or of a segment is a rollup. Any other filter first
    collects the ids of up to ``COUNT_CAP`` matches, in whatever order is cheapest: when
    that is all of them, the count is exact and the page is sorted from those ids (a rare
    search reads the table once instead of walking a sort index through every row); when
    there are more, the page is read in sort order (matches are dense, so it comes quickly)
    and the count says "1,000+".
    """
    dialect = session.get_bind().dialect.name
    conditions = f.conditions(dialect)
    order = _order(f.sort, dialect)
    offset = (f.page - 1) * PAGE_SIZE
    rolled = _rolled_up(f)
    if rolled is None:
        ids = list(await session.scalars(f.matching_ids(dialect).limit(COUNT_CAP + 1)))
        if len(ids) <= COUNT_CAP:
            if not ids:
                return ClientPage([], 0)
            query = select(Client).where(Client.id.in_(ids)).order_by(*order).limit(PAGE_SIZE).offset(offset)
            return ClientPage(list(await session.scalars(query)), len(ids))
    rows = await _sorted_page(session, conditions, f.sort, dialect, offset)
    if rolled is None:
        return ClientPage(rows, COUNT_CAP, capped=True)
    dimension, key = rolled
    if counts is None:
        counts = await rollups.read(session)
    total = sum(counts.of("tier").values()) if dimension == "" else counts.of(dimension).get(key, 0)
    return ClientPage(rows, total)


async def _sorted_page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], sort: str, dialect: str, offset: int
) -> list[Client]:
    """A page of many matches, in sort order, read from the sort column's index.

    The ids are paged first (an index-only scan: the rows skipped by OFFSET are never read),
    then the page's rows fetched. Clients lacking the value come last; where that is not the
    backend's own order for the direction (see ``_order``), the clients with a value are
    paged alone, in the native order an index serves, and those without follow.
    """
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.lstrip("-"), Client.score)
    if descending == (dialect == "sqlite"):  # NULL already sorts last here
        return await _page(session, conditions, _order(sort, dialect), offset, PAGE_SIZE)
    native = [column.desc() if descending else column.asc(), Client.id.desc() if descending else Client.id]
    valued = await _page(session, [*conditions, column.is_not(None)], native, offset, PAGE_SIZE)
    if len(valued) == PAGE_SIZE:
        return valued
    if valued:
        seen = offset + len(valued)  # every client with a value, counted
    else:
        count = select(func.count()).select_from(Client).where(*conditions, column.is_not(None))
        seen = await session.scalar(count) or 0
    by_id = [Client.id.desc() if descending else Client.id]
    rest = await _page(
        session, [*conditions, column.is_(None)], by_id, max(0, offset - seen), PAGE_SIZE - len(valued)
    )
    return valued + rest


async def _page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], order: list[Any], offset: int, limit: int
) -> list[Client]:
    ids = select(Client.id).where(*conditions).order_by(*order).limit(limit).offset(offset)
    return list(await session.scalars(select(Client).where(Client.id.in_(ids)).order_by(*order)))


def _rolled_up(f: ClientFilter) -> tuple[str, str] | None:
    """The rollup that counts this filter's matches: ("", "") for all clients; else None."""
    filters = {name: value for name, value in asdict(f).items() if name not in ("sort", "page")}
    active = {name: value for name, value in filters.items() if value not in (None, "")}
    if not active:
        return ("", "")
    if len(active) == 1 and next(iter(active)) in ("tier", "segment"):
        ((name, value),) = active.items()
        return (name, str(value))
    return None


def segments(counts: rollups.Rollups) -> list[str]:
    """The segments some client is in (from the rollup, not a DISTINCT over every client)."""
    return sorted(counts.of("segment"))


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
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    windows: Sequence[int] = WINDOWS,
    compact_after: int = rollups.COMPACT_AFTER,
) -> tuple[Counts, int]:
    """Per arm and window: (reordered within it, clients whose window has closed); and episodes.

    One episode per client (``uplift_episodes``, kept by triggers by the rules of
    ``core.domain.uplift.Episode``). The rollup ``uplift`` counts episodes per arm, anchor
    day and first window that holds the reorder: a window of W days has closed for every
    anchor day before the day W days ago, for none after it, and that one day's episodes are
    read to compare their anchors with the exact moment.
    """
    keyed = (await rollups.current(sessions, compact_after)).of("uplift")
    days: list[tuple[Arm, str, int | None, int]] = []  # arm, anchor day, first window, episodes
    for key, count in keyed.items():
        arm_name, anchor_day, first = key.split("|")
        days.append((_arm(arm_name), anchor_day, None if first == "-" else int(first), count))
    counts: Counts = {}
    async with sessions() as session:
        for window in windows:
            boundary = now - timedelta(days=window)
            boundary_day = boundary.astimezone(UTC).date()
            tally: dict[Arm, list[int]] = {"emailed": [0, 0], "holdout": [0, 0]}  # reordered, closed
            for arm, anchor_day, first_window, count in days:
                if anchor_day < boundary_day.isoformat():
                    tally[arm][1] += count
                    tally[arm][0] += count if first_window is not None and first_window <= window else 0
            edge = await session.execute(
                select(UpliftEpisode.arm, UpliftEpisode.anchor, UpliftEpisode.reordered_at).where(
                    UpliftEpisode.anchor >= datetime.combine(boundary_day, time.min, tzinfo=UTC),
                    UpliftEpisode.anchor <= boundary,
                )
            )
            for arm_name, anchor, reordered_at in edge:
                arm = _arm(arm_name)
                tally[arm][1] += 1
                tally[arm][0] += reordered_at is not None and reordered_at - anchor <= timedelta(days=window)
            for arm, (reordered, closed) in tally.items():
                counts[(arm, window)] = (reordered, closed)
    return counts, sum(count for *_, count in days)


def _arm(name: str) -> Arm:
    """The arm as ``uplift_episodes`` stores it."""
    return "emailed" if name == "emailed" else "holdout"
