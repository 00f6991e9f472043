"""The versioned store of the live policy (table ``policy_versions``).

Settings seed version 1 the first time anyone reads the policy; from then on the database
is the source of truth and settings are ignored. Each save appends a version with who saved
it and what changed; an identical document appends nothing. Readers: the API and the
``load_policy`` activity (database plumbing, like ``core.store.model_store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.domain.policy_document import Change, Policy, default_policy, diff
from core.runtime.settings import PolicySettings
from core.store.db import transaction, utcnow
from core.store.models import PolicyVersion

SEEDED_BY = "settings"


@dataclass(frozen=True)
class StoredPolicy:
    version: int
    policy: Policy
    updated_at: datetime
    updated_by: str
    changes: list[Change]


def policy_from_settings(settings: PolicySettings) -> Policy:
    """Version 1, from the settings a fresh install was configured with."""
    return default_policy(
        auto_approve=settings.auto_approve,
        approval_expiry_hours=settings.approval_expiry_hours,
        frequency_cap_days=settings.frequency_cap_days,
        quiet_hours_start=settings.quiet_hours_start,
        quiet_hours_end=settings.quiet_hours_end,
        cool_down_days=settings.cool_down_days,
        offer=settings.offer,
        cta_links=list(settings.cta_links),
    )


def _stored(row: PolicyVersion) -> StoredPolicy:
    changes: list[Any] = row.changes or []
    return StoredPolicy(
        version=row.version,
        policy=Policy.tolerant(row.document),
        updated_at=row.created_at,
        updated_by=row.created_by,
        changes=changes,
    )


async def _latest_row(session: AsyncSession) -> PolicyVersion | None:
    return await session.scalar(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1))


async def current_policy(sessions: async_sessionmaker[AsyncSession], seed: Policy) -> StoredPolicy:
    """The newest version; stores ``seed`` as version 1 if there is none yet."""
    async with sessions() as session:
        row = await _latest_row(session)
        if row is not None:
            return _stored(row)
    stored, _ = await save_policy(sessions, seed, SEEDED_BY)
    return stored


async def save_policy(
    sessions: async_sessionmaker[AsyncSession], policy: Policy, by: str, *, attempts: int = 3
) -> tuple[StoredPolicy, bool]:
    """Append ``policy`` as the next version unless it equals the newest; (newest, created).

    Two concurrent saves race for the same version number: the loser's insert fails on the
    unique constraint and it tries again on top of the winner.
    """
    for attempt in range(attempts):
        try:
            async with transaction(sessions) as session:
                return await _append(session, policy, by)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def _append(session: AsyncSession, policy: Policy, by: str) -> tuple[StoredPolicy, bool]:
    latest = await _latest_row(session)
    if latest is not None and latest.digest == policy.digest():
        return _stored(latest), False
    row = PolicyVersion(
        version=(latest.version if latest else 0) + 1,
        document=policy.model_dump(mode="json"),
        digest=policy.digest(),
        changes=diff(latest.document if latest else None, policy),
        created_at=utcnow(),
        created_by=by[:128],
    )
    session.add(row)
    await session.flush()
    return _stored(row), True


async def policy_versions(
    session: AsyncSession, limit: int = 50, before: int | None = None
) -> list[StoredPolicy]:
    """Newest first, ``limit`` at a time (``before``: versions older than this one)."""
    query = select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(limit)
    if before is not None:
        query = query.where(PolicyVersion.version < before)
    return [_stored(row) for row in await session.scalars(query)]


async def policy_version_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(PolicyVersion)) or 0)
