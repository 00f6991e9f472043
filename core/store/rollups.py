"""The dashboard's pre-aggregated counts: read them whole, fold their deltas in.

Database triggers (migration ``b07a24b80c68``) append a delta to ``rollup_deltas`` in the
same transaction as every write to ``clients``, ``emails`` and ``engagement_scores``, so the
counts are exact whoever writes (activities, the importer, erasure, a bulk insert) and
concurrent writers never wait on one counter row. Reading sums ``rollups`` and the pending
deltas; ``compact`` folds the deltas into ``rollups`` so that sum stays short.

Dimensions and their keys:

- ``tier``: clients per tier, ``''`` for clients not yet scored;
- ``segment``: clients per segment (clients without one are not counted);
- ``score_band``: clients per 10-point score band, ``'0'`` .. ``'9'`` (100 falls in ``'9'``);
- ``email_status``: emails per status;
- ``at_risk_day``: per UTC day (``YYYY-MM-DD``), clients who entered the at-risk tier that
  day minus clients who left it, from the score history. The sum over all days up to a
  moment is the number of clients at risk then.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, literal_column, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.models import Rollup, RollupDelta

COMPACT_AFTER = 10_000  # pending deltas a reader tolerates before it folds them in
COMPACT_BATCH = 200_000  # deltas folded per transaction


@dataclass(frozen=True)
class Rollups:
    """Every count, by dimension then key (zero counts are absent)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, dimension: str) -> dict[str, int]:
        return self.counts.get(dimension, {})


async def read(session: AsyncSession) -> Rollups:
    """The current counts: ``rollups`` plus the deltas not yet folded in."""
    parts = union_all(
        select(Rollup.dimension, Rollup.key, Rollup.count.label("n")),
        select(RollupDelta.dimension, RollupDelta.key, RollupDelta.delta.label("n")),
    ).subquery()
    total = func.sum(parts.c.n)
    rows = await session.execute(
        select(parts.c.dimension, parts.c.key, total)
        .group_by(parts.c.dimension, parts.c.key)
        .having(total != 0)
    )
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for dimension, key, count in rows:
        counts[dimension][key] = int(count)
    return Rollups(dict(counts))


async def pending(session: AsyncSession, at_least: int = COMPACT_AFTER) -> bool:
    """Whether ``at_least`` deltas wait to be folded in (counts no further than that)."""
    some = select(literal_column("1")).select_from(RollupDelta).limit(at_least).subquery()
    return (await session.scalar(select(func.count()).select_from(some)) or 0) >= at_least


async def current(sessions: async_sessionmaker[AsyncSession], compact_after: int = COMPACT_AFTER) -> Rollups:
    """The rollups, folding their pending deltas in first when ``compact_after`` have piled up
    (a bulk import leaves many; a reader folds them in batches of ``COMPACT_BATCH``)."""
    async with sessions() as session:
        while await pending(session, compact_after):
            await compact(session)
            await session.commit()
        return await read(session)


async def compact(session: AsyncSession, batch: int = COMPACT_BATCH) -> bool:
    """Fold up to ``batch`` of the oldest deltas into ``rollups``; False when there were none.

    Call inside a transaction. Safe beside writers and other compactions: only deltas this
    transaction deletes are added (PostgreSQL: ``DELETE ... RETURNING`` feeds the upsert; a
    concurrent compaction that deleted a row first makes ours skip it; SQLite: one writer at
    a time, and the batch is bounded by an id read inside it).
    """
    dialect = session.get_bind().dialect.name
    oldest = select(RollupDelta.id).order_by(RollupDelta.id).limit(batch).subquery()
    upto = await session.scalar(select(func.max(oldest.c.id)))
    if upto is None:
        return False
    if dialect == "postgresql":
        moved = (
            delete(RollupDelta)
            .where(RollupDelta.id <= upto)
            .returning(RollupDelta.dimension, RollupDelta.key, RollupDelta.delta)
            .cte("moved")
        )
        source = select(moved.c.dimension, moved.c.key, func.sum(moved.c.delta)).group_by(
            moved.c.dimension, moved.c.key
        )
        upsert: Any = pg_insert(Rollup).from_select(["dimension", "key", "count"], source)
    else:
        source = (
            select(RollupDelta.dimension, RollupDelta.key, func.sum(RollupDelta.delta))
            .where(RollupDelta.id <= upto)
            .group_by(RollupDelta.dimension, RollupDelta.key)
        )
        upsert = sqlite_insert(Rollup).from_select(["dimension", "key", "count"], source)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Rollup.dimension, Rollup.key],
            set_={"count": Rollup.count + upsert.excluded.count},
        )
    )
    if dialect != "postgresql":  # PostgreSQL deleted them in the same statement
        await session.execute(delete(RollupDelta).where(RollupDelta.id <= upto))
    await session.execute(delete(Rollup).where(Rollup.count == 0))
    return True
