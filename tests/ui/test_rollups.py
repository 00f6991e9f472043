"""The dashboard's rollups equal a recount of the tables, whoever writes and however.

Each test writes through the paths production uses (ORM rows, multi-row inserts, inserts
that ignore conflicts, bulk UPDATEs, erasure's cascading DELETE), in random order and
concurrently, folds deltas in between, and compares ``rollups.read`` with the counts
recomputed from the tables, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.ui import queries
from core.domain.uplift import WINDOWS, Episode, count_episodes
from core.store import rollups
from core.store.db import insert_ignoring_conflicts, transaction
from core.store.models import Client, Email, EngagementScore, Order, RollupDelta
from tests.ui import factories as f

TIERS = ["active", "cooling", "at_risk", "lapsed", None]
STATUSES = ["pending_approval", "approved", "sent", "rejected", "holdout"]


async def recount(session: AsyncSession) -> dict[str, dict[str, int]]:
    """What the rollups must say, from the tables themselves."""
    counts: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tier, segment, score in await session.execute(select(Client.tier, Client.segment, Client.score)):
        counts["tier"][tier or ""] += 1
        if segment is not None:
            counts["segment"][segment] += 1
        if score is not None:
            counts["score_band"][str(min(9, int(score // 10)))] += 1
    for (status,) in await session.execute(select(Email.status)):
        counts["email_status"][status] += 1
    history = await session.execute(
        select(EngagementScore.client_id, EngagementScore.scored_at, EngagementScore.tier).order_by(
            EngagementScore.client_id, EngagementScore.scored_at
        )
    )
    previous: dict[str, str] = {}
    for client_id, scored_at, tier in history:
        delta = (tier == "at_risk") - (previous.get(client_id) == "at_risk")
        previous[client_id] = tier
        if delta:
            counts["at_risk_day"][scored_at.date().isoformat()] += delta
    for episode in await episodes_from_tables(session):
        gap = episode.reordered_at - episode.anchor if episode.reordered_at else None
        first = next((str(days) for days in WINDOWS if gap is not None and gap <= timedelta(days=days)), "-")
        counts["uplift"][f"{episode.arm}|{episode.anchor.date().isoformat()}|{first}"] += 1
    return {d: {k: n for k, n in keys.items() if n} for d, keys in counts.items() if any(keys.values())}


async def assert_rollups_match(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert (await rollups.read(session)).counts == await recount(session)


def _client(rng: random.Random, client_id: str) -> dict[str, Any]:
    tier = rng.choice(TIERS)
    return {
        "id": client_id,
        "order_count": 0,
        "total_spend_minor": 0,
        "holdout": False,
        "tier": tier,
        "score": None if tier is None else rng.choice([0.0, 9.99, 10.0, 55.5, 99.9, 100.0]),
        "segment": rng.choice([None, "loyal", "champions"]),
        "created_at": f.NOW,
        "updated_at": f.NOW,
    }


def _score(rng: random.Random, client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "scored_at": f.NOW - timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23)),
        "score": 30.0,
        "tier": rng.choice(["active", "at_risk", "at_risk", "lapsed"]),
        "reasons": [],
    }


async def _write_some(sessions: async_sessionmaker[AsyncSession], rng: random.Random, prefix: str) -> None:
    """One writer's mixed workload, a transaction per step, checked against a recount by the caller."""
    ids = [f"{prefix}-{i}" for i in range(12)]
    async with transaction(sessions) as session:  # a multi-row INSERT
        await session.execute(insert(Client), [_client(rng, cid) for cid in ids[:8]])
    for cid in ids[8:]:  # ORM rows, one at a time
        async with transaction(sessions) as session:
            session.add(Client(**_client(rng, cid)))
    for step in range(40):
        cid = rng.choice(ids)
        async with transaction(sessions) as session:
            exists = await session.get(Client, cid)
            kind = rng.random()
            if exists is None:
                session.add(Client(**_client(rng, cid)))
            elif kind < 0.25:  # rescore: tier and score, as activities/scoring.py does
                tier = rng.choice(TIERS[:4])
                await session.execute(
                    update(Client).where(Client.id == cid).values(tier=tier, score=rng.uniform(0, 100))
                )
            elif kind < 0.35:  # a bulk UPDATE over several clients (the refit's segments)
                await session.execute(
                    update(Client)
                    .where(Client.id.in_(rng.sample(ids, 4)))
                    .values(segment=rng.choice(["a", "b"]))
                )
            elif kind < 0.6:  # score history, out of order, some rows twice (ignored)
                rows = [_score(rng, cid) for _ in range(rng.randint(1, 4))]
                dialect = session.get_bind().dialect.name
                await session.execute(
                    insert_ignoring_conflicts(
                        dialect, EngagementScore, rows + rows[:1], ["client_id", "scored_at"]
                    )
                )
            elif kind < 0.8:  # an email, then its status moves along
                email_id = f"{cid}-e{step}"
                session.add(f.email_row(cid, email_id, status="pending_approval"))
                await session.flush()
                await session.execute(
                    update(Email).where(Email.id == email_id).values(status=rng.choice(STATUSES))
                )
            elif kind < 0.9:  # one score row deleted
                victim = await session.scalar(
                    select(EngagementScore.id).where(EngagementScore.client_id == cid)
                )
                if victim is not None:
                    await session.execute(delete(EngagementScore).where(EngagementScore.id == victim))
            else:  # erasure: the client and everything of theirs, by cascade
                await session.execute(delete(Client).where(Client.id == cid))
        if rng.random() < 0.1:
            async with transaction(sessions) as session:
                await rollups.compact(session, batch=rng.randint(1, 50))


async def test_rollups_equal_a_recount_after_every_kind_of_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_some(sessions, random.Random(11), "a")
    await assert_rollups_match(sessions)
    async with transaction(sessions) as session:
        assert await rollups.compact(session)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RollupDelta)) == 0
    await assert_rollups_match(sessions)


async def test_rollups_stay_exact_under_concurrent_writers_and_compactions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Six writers and a compactor at once: no delta is lost or folded twice."""
    stop = asyncio.Event()

    async def compactor() -> None:
        while not stop.is_set():
            async with transaction(sessions) as session:
                await rollups.compact(session, batch=25)
            await asyncio.sleep(0)

    folding = asyncio.create_task(compactor())
    await asyncio.gather(*(_write_some(sessions, random.Random(seed), f"w{seed}") for seed in range(6)))
    stop.set()
    await folding
    await assert_rollups_match(sessions)


async def test_rollups_at_risk_days_follow_out_of_order_history(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    day = timedelta(days=1)
    await f.add(sessions, f.client_row("x"))
    for offset, tier in [(30, "at_risk"), (10, "active"), (20, "at_risk"), (40, "active"), (5, "at_risk")]:
        await f.add(sessions, f.score_row("x", f.NOW - offset * day, 50, tier, []))
    async with sessions() as session:
        days = (await rollups.read(session)).of("at_risk_day")
    # in order: -40 active, -30 at risk (+1), -20 still at risk, -10 active (-1), -5 at risk (+1)
    assert days == {
        (f.NOW - 30 * day).date().isoformat(): 1,
        (f.NOW - 10 * day).date().isoformat(): -1,
        (f.NOW - 5 * day).date().isoformat(): 1,
    }


async def test_rollups_score_history_is_append_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    await f.add(sessions, f.client_row("y"), f.score_row("y", f.NOW, 20, "at_risk", []))
    with pytest.raises(DBAPIError, match="append-only"):
        async with transaction(sessions) as session:
            await session.execute(update(EngagementScore).values(tier="active"))
    await assert_rollups_match(sessions)


async def test_rollups_reader_folds_deltas_in_once_many_pile_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await f.add(sessions, *(f.client_row(f"c-{i}", tier="at_risk", score=20.0) for i in range(30)))
    async with sessions() as session:
        assert await rollups.pending(session, at_least=30)
    overview = await queries.overview(sessions, f.NOW, compact_after=30)
    assert overview.tiers["at_risk"] == 30
    async with sessions() as session:
        assert not await rollups.pending(session, at_least=1)
    await assert_rollups_match(sessions)


async def episodes_from_tables(session: AsyncSession) -> list[Episode]:
    """The uplift episodes by ``core.domain.uplift``'s rules, from the emails and orders."""
    emails = await session.execute(
        select(Email.client_id, Email.created_at, Email.status).where(Email.status.in_(("sent", "holdout")))
    )
    first: dict[str, tuple[datetime, str]] = {}
    for client_id, created_at, status in emails:
        if client_id not in first or (created_at, status) < first[client_id]:
            first[client_id] = (created_at, status)
    orders: defaultdict[str, list[datetime]] = defaultdict(list)
    for client_id, placed_at in await session.execute(select(Order.client_id, Order.placed_at)):
        orders[client_id].append(placed_at)
    return [
        Episode(
            "emailed" if status == "sent" else "holdout",
            anchor,
            min((at for at in orders[cid] if at > anchor), default=None),
        )
        for cid, (anchor, status) in first.items()
    ]


async def _uplift_writes(sessions: async_sessionmaker[AsyncSession], rng: random.Random, prefix: str) -> None:
    """Emails and orders of a few clients in random order: drafts that are sent or held out
    later, earlier emails arriving after later ones, orders before and after, deletions."""
    ids = [f"{prefix}-{i}" for i in range(8)]
    await f.add(sessions, *(f.client_row(cid) for cid in ids))
    for step in range(60):
        cid = rng.choice(ids)
        at = f.NOW - timedelta(days=rng.randint(0, 150), hours=rng.randint(0, 23))
        async with transaction(sessions) as session:
            if await session.get(Client, cid) is None:
                continue
            kind = rng.random()
            if kind < 0.3:
                status = rng.choice(["pending_approval", "sent", "holdout", "rejected"])
                session.add(f.email_row(cid, f"{cid}-e{step}", status=status, created_at=at))
            elif kind < 0.45:  # a draft is sent or held out, or a sent one bounces
                email_id = await session.scalar(select(Email.id).filter_by(client_id=cid).limit(1))
                if email_id is not None:
                    status = rng.choice(["sent", "holdout", "bounced"])
                    await session.execute(update(Email).where(Email.id == email_id).values(status=status))
            elif kind < 0.8:  # orders, several in one statement now and then
                rows = [
                    f.order_row(cid, at + timedelta(days=rng.randint(-20, 20)))
                    for _ in range(rng.randint(1, 3))
                ]
                session.add_all(rows)
            elif kind < 0.9:
                order_id = await session.scalar(select(Order.id).filter_by(client_id=cid).limit(1))
                if order_id is not None:
                    await session.execute(delete(Order).where(Order.id == order_id))
            elif kind < 0.95:
                await session.execute(delete(Email).where(Email.client_id == cid, Email.status == "sent"))
            else:
                await session.execute(delete(Client).where(Client.id == cid))


async def test_rollups_uplift_follows_emails_and_orders_in_any_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await asyncio.gather(*(_uplift_writes(sessions, random.Random(seed), f"u{seed}") for seed in range(4)))
    async with sessions() as session:
        episodes = await episodes_from_tables(session)
    assert len(episodes) > 5
    for now in (f.NOW, f.NOW + timedelta(days=45, hours=7)):
        counts, total = await queries.uplift_counts(sessions, now)
        assert (counts, total) == (count_episodes(episodes, now), len(episodes))
    await assert_rollups_match(sessions)


async def test_rollups_uplift_window_closes_at_the_exact_moment(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Anchors on the day a window closes count to the minute, not by their day."""
    anchor = f.NOW - timedelta(days=30)
    rows: list[object] = []
    for i, shift in enumerate([-2, -1, 1, 2]):  # hours either side of the 30-day mark
        cid = f"edge-{i}"
        rows += [
            f.client_row(cid),
            f.email_row(cid, f"edge-e{i}", status="sent", created_at=anchor + timedelta(hours=shift)),
            f.order_row(cid, anchor + timedelta(days=29, hours=shift + 1)),
        ]
    await f.add(sessions, *rows)
    counts, total = await queries.uplift_counts(sessions, f.NOW)
    assert total == 4
    assert counts[("emailed", 30)] == (2, 2)  # the two drafted before the mark, both reordered in time
