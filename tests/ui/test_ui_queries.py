"""The dashboard's SQL aggregates agree with their plain-Python definitions, on both backends."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api import queries as api_queries
from api.ui import queries
from core.domain.uplift import Episode, count_episodes
from core.store.db import transaction
from core.store.models import Client, ClientSearch
from core.store.privacy import scrub_sqlite
from tests.ui import factories as f


async def test_ui_queries_uplift_counts_match_episodes(sessions: async_sessionmaker[AsyncSession]) -> None:
    rng = random.Random(3)
    rows: list[object] = []
    episodes = []
    for i in range(60):
        cid, status = f"c-{i}", rng.choice(["sent", "holdout"])
        drafted = f.NOW - timedelta(days=rng.randint(1, 150), hours=rng.randint(0, 23))
        rows += [f.client_row(cid), f.email_row(cid, f"e-{i}", status=status, created_at=drafted)]
        # a later email of the same client does not start a second episode, in either arm
        later = rng.choice(["sent", "holdout"])
        rows.append(f.email_row(cid, f"e-{i}-b", status=later, created_at=drafted + timedelta(days=40)))
        rows.append(f.order_row(cid, drafted - timedelta(days=3)))  # before the draft: not a reorder
        reorder = drafted + timedelta(days=rng.randint(1, 120)) if rng.random() < 0.5 else None
        if reorder is not None:
            rows.append(f.order_row(cid, reorder))
        episodes.append(Episode("emailed" if status == "sent" else "holdout", drafted, reorder))
    rows.append(f.client_row("c-pending"))
    rows.append(f.email_row("c-pending", "e-pending", status="pending_approval"))
    await f.add(sessions, *rows)
    counts, total = await queries.uplift_counts(sessions, f.NOW)
    assert total == 60
    assert counts == count_episodes(episodes, f.NOW)


async def test_ui_queries_at_risk_over_time_follows_transitions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    def weeks_ago(weeks: int) -> datetime:
        return f.NOW - timedelta(weeks=weeks, hours=1)

    rows: list[object] = [f.client_row(c) for c in ("a", "b", "c", "d")]
    reasons = ["test"]
    rows += [
        # a: at risk since before the window, recovers 10 weeks ago
        f.score_row("a", weeks_ago(40), 20, "at_risk", reasons),
        f.score_row("a", weeks_ago(10), 70, "active", reasons),
        # b: at risk 20 weeks ago, stays at risk (rescored at risk again: no double count)
        f.score_row("b", weeks_ago(30), 80, "active", reasons),
        f.score_row("b", weeks_ago(20), 30, "at_risk", reasons),
        f.score_row("b", weeks_ago(5), 25, "at_risk", reasons),
        # c: never at risk
        f.score_row("c", weeks_ago(15), 90, "active", reasons),
        # d: at risk 3 weeks ago, lapsed 1 week ago
        f.score_row("d", weeks_ago(3), 30, "at_risk", reasons),
        f.score_row("d", weeks_ago(1), 5, "lapsed", reasons),
    ]
    await f.add(sessions, *rows)
    series = (await queries.overview(sessions, f.NOW)).at_risk_weeks
    assert len(series) == queries.WEEKS
    by_age = {round((f.NOW - at).days / 7): n for at, n in series}  # weeks before now -> count
    assert by_age[25] == 1  # a
    assert by_age[19] == 2  # a, b
    assert by_age[9] == 1  # b (a recovered)
    assert by_age[2] == 2  # b, d
    assert by_age[0] == 1  # b (d lapsed)


async def test_ui_queries_dense_filters_walk_the_key_and_return_the_same_pages(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /v1/clients``'s list: a filter the probe finds dense is served by walking the
    primary key (on SQLite), a sparse one by the planner's index; both give the same pages,
    cursor by cursor, and the same clients as the filter's plain definition."""
    rng = random.Random(5)
    clients = [
        f.client_row(
            f"c-{i:03d}",
            tier=rng.choice(["active", "at_risk", "lapsed"]),
            score=rng.uniform(0, 100),
            holdout=rng.random() < 0.3,
            last_order_at=f.NOW - timedelta(days=rng.randint(0, 300)),
        )
        for i in range(80)
    ]
    await f.add(sessions, *clients)
    cases: list[tuple[api_queries.ClientFilters, Callable[[Client], bool]]] = [
        (api_queries.ClientFilters(score_min=30, score_max=70), lambda c: 30 <= (c.score or 0) <= 70),
        (
            api_queries.ClientFilters(tier="at_risk", score_min=20, holdout=False),
            lambda c: c.tier == "at_risk" and (c.score or 0) >= 20 and not c.holdout,
        ),
        (
            api_queries.ClientFilters(last_order_before=f.NOW - timedelta(days=100)),
            lambda c: c.last_order_at is not None and c.last_order_at < f.NOW - timedelta(days=100),
        ),
    ]

    async def walk(filters: api_queries.ClientFilters) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            async with sessions() as session:
                rows, cursor = await api_queries.list_clients(session, filters, 7, cursor)
            seen += [c.id for c in rows]
            if cursor is None:
                return seen

    for filters, matches in cases:
        expected = sorted(c.id for c in clients if matches(c))
        assert len(expected) > 10
        monkeypatch.setattr(api_queries, "PROBE", 5)  # every page dense
        assert await walk(filters) == expected
        monkeypatch.setattr(api_queries, "PROBE", 10**9)  # never dense
        assert await walk(filters) == expected


async def test_ui_queries_client_list_counts_from_rollups_ids_or_a_cap(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clients page: exact counts from the rollups (all, a tier), exact when the matches
    fit under the cap (sorted from their ids), "cap+" past it, every page sorted the same."""
    monkeypatch.setattr(queries, "COUNT_CAP", 4)
    rows = [
        f.client_row(
            f"c-{i}",
            tier="at_risk" if i < 6 else "active",
            score=float(i),
            first_name="Grace" if i % 2 else "Ada",
        )
        for i in range(10)
    ]
    await f.add(sessions, *rows)
    async with sessions() as session:
        everyone = await queries.list_clients(session, queries.ClientFilter(sort="-score"))
        at_risk = await queries.list_clients(session, queries.ClientFilter(tier="at_risk", sort="score"))
        few = await queries.list_clients(session, queries.ClientFilter(q="grace", score_max=4, sort="-score"))
        many = await queries.list_clients(session, queries.ClientFilter(q="grace", sort="-score"))
    assert (everyone.total, everyone.capped, [c.id for c in everyone.rows][:3]) == (
        10,
        False,
        ["c-9", "c-8", "c-7"],
    )
    assert (at_risk.total, at_risk.capped, at_risk.rows[0].id) == (6, False, "c-0")
    assert (few.total, few.capped, [c.id for c in few.rows]) == (2, False, ["c-3", "c-1"])
    assert (many.total, many.capped, [c.id for c in many.rows]) == (
        4,
        True,
        ["c-9", "c-7", "c-5", "c-3", "c-1"],
    )
    assert many.more(1) is False  # all five fit on the first page


async def test_ui_queries_search_reads_client_search_kept_current_by_triggers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Every word anywhere in first name, last name or email (or the exact id), through the
    narrow client_search table, which follows renames and erasure."""
    ada = f.client_row(
        "c-ada", first_name="Ada", last_name="Lovelace", email="ada@analytical.org", tier="lapsed"
    )
    grace = f.client_row("c-grace", first_name="Grace", last_name="Hopper", email="grace@navy.mil")
    await f.add(sessions, ada, grace)

    async def ids(q: str, tier: str | None = None) -> list[str]:
        async with sessions() as session:
            page = await queries.list_clients(session, queries.ClientFilter(q=q, tier=tier, sort="name"))
            api_filter = api_queries.ClientFilters(q=q, tier=tier)
            api_rows, _ = await api_queries.list_clients(session, api_filter, 10, None)
        assert [c.id for c in api_rows] == sorted(c.id for c in page.rows)
        return [c.id for c in page.rows]

    assert await ids("grace navy") == ["c-grace"]  # words in different fields
    assert await ids("RACE hop") == ["c-grace"]  # anywhere in a word, any ASCII case
    assert await ids("org") == ["c-ada"]
    assert await ids("c-ada") == ["c-ada"]  # the exact id
    assert await ids("ceada") == []  # no word runs from one field into the next
    assert await ids("a", tier="active") == ["c-grace"]
    async with transaction(sessions) as session:
        await session.execute(update(Client).where(Client.id == "c-grace").values(email="gh@cobol.example"))
        await session.execute(delete(Client).where(Client.id == "c-ada"))
    assert await ids("navy") == []
    assert await ids("cobol") == ["c-grace"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ClientSearch)) == 1  # Ada's row is gone


async def test_ui_queries_search_lists_a_client_once_when_the_id_and_the_text_both_match(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The exact id and the words are two ways to match (two queries on SQLite's trigram
    index); a client matched both ways is one row, and short words narrow indexed ones."""
    await f.add(
        sessions,
        f.client_row("ada-1", first_name="Ada", email="ada-1@analytical.org"),
        f.client_row("ada-2", first_name="Ada", last_name="Byron", email="ab@example.com"),
        f.client_row("zo-3", first_name="Zoë", last_name="Ng", email="zo@example.com"),
    )
    for q, expected in [
        ("ada-1", ["ada-1"]),  # its id, and a word of its email
        ("ada-2", ["ada-2"]),  # its id only
        ("ada", ["ada-1", "ada-2"]),
        ("ada by", ["ada-2"]),  # a two-letter word matched on the rows the index found
        ("ng zoë", ["zo-3"]),
        ('"ng', []),  # a quote is a character to find, not FTS5 syntax
        ("example.com ZO", ["zo-3"]),
    ]:
        async with sessions() as session:
            page = await queries.list_clients(session, queries.ClientFilter(q=q, sort="name"))
            rows, _ = await api_queries.list_clients(session, api_queries.ClientFilters(q=q), 10, None)
        assert sorted(c.id for c in page.rows) == expected, q
        assert page.total == len(expected), q
        assert [c.id for c in rows] == expected, q


async def test_api_search_pages_by_cursor_give_every_match_once_in_id_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A search's pages past a cursor (through the index on SQLite, which serves matches in
    the order clients were added): page after page, every match once, in id order, then the end."""
    rng = random.Random(5)
    rows = [
        f.client_row(
            f"c-{i:03d}", email=f"{rng.choice(['navy', 'army', 'navy.mil'])}{i}@example.org", tier=tier
        )
        for i in range(60)
        for tier in [rng.choice(["active", "at_risk"])]
    ]
    await f.add(sessions, *rng.sample(rows, len(rows)))  # the index's order is not the ids'
    for filters in [api_queries.ClientFilters(q="navy"), api_queries.ClientFilters(q="navy", tier="at_risk")]:
        expected = [c.id for c in rows if "navy" in (c.email or "") and filters.tier in (None, c.tier)]
        seen: list[str] = []
        cursor = None
        for _ in range(40):
            async with sessions() as session:
                page, cursor = await api_queries.list_clients(session, filters, 4, cursor)
            seen += [c.id for c in page]
            if cursor is None:
                break
        assert seen == expected, filters


async def test_search_index_forgets_an_erased_client_once_scrubbed(
    sessions: async_sessionmaker[AsyncSession], db_engine: AsyncEngine
) -> None:
    """SQLite's trigram index keeps a deleted client's entries in an older segment until
    segments merge: the erasure's scrub merges them, so the name is gone from the file."""
    if db_engine.dialect.name != "sqlite":
        pytest.skip("the trigram index is SQLite's (PostgreSQL's GIN index is vacuumed)")
    await f.add(sessions, f.client_row("c-q", last_name="Wyzwyz"), f.client_row("c-k", last_name="Kept"))
    path = Path(str(db_engine.url.database))

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())

    async with transaction(sessions) as session:
        await session.execute(delete(Client).where(Client.id == "c-q"))
    async with db_engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    # A trigram of the name, in the index's segments (no other term starts with "w", so the
    # index stores it whole rather than after a shared prefix).
    assert b"wyz" in on_disk()
    await scrub_sqlite(db_engine)
    assert b"wyz" not in on_disk()
    async with sessions() as session:
        assert [c.id for c in (await queries.list_clients(session, queries.ClientFilter(q="kept"))).rows] == [
            "c-k"
        ]


@pytest.mark.parametrize("sort", ["score", "-score", "last_order", "-last_order", "name", "-orders"])
async def test_ui_queries_client_pages_put_missing_values_last_in_every_direction(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    """Page after page, clients in sort order then id, those without the value after all
    the others, whichever order the backend gives NULL natively (small pages, many of them)."""
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    rng = random.Random(sort)
    rows = [
        f.client_row(
            f"c-{i:02d}",
            score=rng.choice([None, 10.0, 20.0, 30.0]),
            last_order_at=rng.choice([None, f.NOW, f.NOW - timedelta(days=9)]),
            last_name=rng.choice([None, "Hopper", "Lovelace"]),
            order_count=rng.choice([0, 1, 2]),
        )
        for i in range(20)
    ]
    await f.add(sessions, *rows)
    field = {"score": "score", "last_order": "last_order_at", "name": "last_name", "orders": "order_count"}
    attribute = field[sort.lstrip("-")]
    descending = sort.startswith("-")
    valued = sorted(
        (c for c in rows if getattr(c, attribute) is not None),
        key=lambda c: (getattr(c, attribute), c.id),
        reverse=descending,
    )
    missing = sorted(
        (c for c in rows if getattr(c, attribute) is None), key=lambda c: c.id, reverse=descending
    )
    seen: list[str] = []
    for page in range(1, 9):
        async with sessions() as session:
            found = await queries.list_clients(session, queries.ClientFilter(sort=sort, page=page))
        seen += [c.id for c in found.rows]
    assert seen == [c.id for c in valued + missing]
