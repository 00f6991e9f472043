"""A client's rights over their data: a copy of everything (export) and erasure.

Erasure removes every row that names the client or their address: profile, orders,
scores, emails and their events, suppressions, and their payload data key (which
crypto-shreds their Temporal history, core/store/datakeys.py). Orders go too: the refit
loses one client's history, which does not move a population fit, and a
pseudonymous client row would still show in the dashboard and the uplift report.

What stays is a keyed hash of each address that was suppressed or erased, so the
address is never emailed again even if it comes back under another client id
(``is_suppressed`` checks both forms). The hash is an HMAC under
``security.suppression_hash_secret``: without the secret the list cannot be
searched for a guessed address.

For a week an erasure also leaves a hash of the client id in ``erased_clients``: an
activity the terminated workflow had already started (a draft, an order being recorded)
fails instead of writing the client back (``core.store.clients.ensure_client``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.store.clients import erased_hash
from core.store.db import insert_ignoring_conflicts, utcnow
from core.store.models import (
    SEARCH_INDEX,
    SEARCH_INDEX_TABLE,
    Base,
    Client,
    ClientDataKey,
    ConsentEvent,
    DeliveryEvent,
    Email,
    EmailEvent,
    EngagementScore,
    ErasedClient,
    Order,
    Suppression,
)
from core.store.ops_models import AuditEntry, ClientPause, OutboxEvent

# Tables that name the client by id and hold nothing another client needs: exported, then
# deleted on erasure. The audit log is kept (accountability) with the client's id replaced.
KEYED_BY_CLIENT: tuple[tuple[str, Any], ...] = (
    ("delivery_events", DeliveryEvent.client_id),
    ("consent_events", ConsentEvent.client_id),
    ("client_pauses", ClientPause.client_id),
    ("outbox_events", OutboxEvent.client_id),
)
HASH_PREFIX = "hmac-sha256:"
TOMBSTONE_DAYS = timedelta(days=7)
ERASED_REASON = "erased"


def address_hash(secret: str, address: str) -> str:
    """The keyed hash an erased address is remembered by on the suppression list."""
    digest = hmac.new(secret.encode(), address.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"{HASH_PREFIX}{digest}"


def suppressed_forms(secret: str, address: str) -> list[str]:
    """The ways an address can sit on the suppression list: as itself, or hashed after an erasure."""
    return [address.strip().lower(), address_hash(secret, address)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def row_dict(row: Base) -> dict[str, Any]:
    """Every column of a row, JSON-ready."""
    return {column.key: _jsonable(getattr(row, column.key)) for column in row.__table__.columns}


async def _rows(session: AsyncSession, query: Select[Any]) -> list[dict[str, Any]]:
    return [row_dict(r) for r in (await session.scalars(query)).all()]


async def _addresses(session: AsyncSession, client: Client | None, client_id: str) -> set[str]:
    """Every address the database links to the client (profile, emails sent, suppressions)."""
    found = {client.email} if client is not None and client.email else set()
    found |= set(await session.scalars(select(Email.to_address).where(Email.client_id == client_id)))
    found |= set(await session.scalars(select(Suppression.email).where(Suppression.client_id == client_id)))
    return {a.strip().lower() for a in found if a and not a.startswith(HASH_PREFIX)}


def _suppressions_of(client_id: str, addresses: set[str]) -> Select[Suppression]:
    return select(Suppression).where(
        or_(Suppression.client_id == client_id, Suppression.email.in_(sorted(addresses)))
    )


async def export_client(session: AsyncSession, client_id: str) -> dict[str, Any] | None:
    """Everything the database holds about the client, or None when it holds nothing."""
    client = await session.get(Client, client_id)
    addresses = await _addresses(session, client, client_id)
    emails = await _rows(
        session, select(Email).where(Email.client_id == client_id).order_by(Email.created_at)
    )
    events = await _rows(
        session, select(EmailEvent).where(EmailEvent.client_id == client_id).order_by(EmailEvent.at)
    )
    for email in emails:
        email["events"] = [e for e in events if e["email_id"] == email["id"]]
    export = {
        "profile": row_dict(client) if client is not None else None,
        "orders": await _rows(
            session, select(Order).where(Order.client_id == client_id).order_by(Order.placed_at)
        ),
        "scores": await _rows(
            session,
            select(EngagementScore)
            .where(EngagementScore.client_id == client_id)
            .order_by(EngagementScore.scored_at),
        ),
        "emails": emails,
        "suppressions": await _rows(session, _suppressions_of(client_id, addresses).order_by(Suppression.id)),
        "activity": {
            name: rows
            for name, column in (*KEYED_BY_CLIENT, ("audit_log", AuditEntry.target_id))
            if (rows := await _rows(session, select(column.class_).where(column == client_id)))
        },
    }
    return export if any(export.values()) else None


@dataclass
class Erasure:
    """What an erasure removed: rows per table, hashes kept, whether a data key was destroyed."""

    rows: dict[str, int] = field(default_factory=dict)
    hashed_suppressions: int = 0
    data_key_id: str | None = None


async def erase_client(session: AsyncSession, client_id: str, hash_secret: str) -> Erasure:
    """Delete everything about the client in ``session``'s transaction; idempotent."""
    client = await session.get(Client, client_id)
    addresses = await _addresses(session, client, client_id)
    reasons = set(await session.scalars(select(Suppression.reason).where(Suppression.client_id == client_id)))
    result = Erasure()
    result.data_key_id = await session.scalar(
        select(ClientDataKey.key_id).where(ClientDataKey.client_id == client_id)
    )
    email_ids = select(Email.id).where(Email.client_id == client_id).scalar_subquery()
    deletions: list[tuple[str, Any]] = [
        (
            "email_events",
            delete(EmailEvent).where(
                or_(EmailEvent.client_id == client_id, EmailEvent.email_id.in_(email_ids))
            ),
        ),
        ("emails", delete(Email).where(Email.client_id == client_id)),
        ("engagement_scores", delete(EngagementScore).where(EngagementScore.client_id == client_id)),
        ("orders", delete(Order).where(Order.client_id == client_id)),
        (
            "suppressions",
            delete(Suppression).where(
                or_(Suppression.client_id == client_id, Suppression.email.in_(sorted(addresses)))
            ),
        ),
        *((name, delete(column.class_).where(column == client_id)) for name, column in KEYED_BY_CLIENT),
        ("client_data_keys", delete(ClientDataKey).where(ClientDataKey.client_id == client_id)),
        ("clients", delete(Client).where(Client.id == client_id)),
    ]
    for table, statement in deletions:
        result.rows[table] = (await session.execute(statement)).rowcount or 0  # type: ignore[attr-defined]
    for address in sorted(addresses):
        result.hashed_suppressions += await _keep_hash(session, hash_secret, address, reasons)
    audit = update(AuditEntry).where(AuditEntry.target_id == client_id)
    pseudonym = "erased-" + erased_hash(client_id).removeprefix("sha256:")[:32]
    result.rows["audit_log (pseudonymised)"] = (
        await session.execute(audit.values(target_id=pseudonym, detail=None))
    ).rowcount or 0  # type: ignore[attr-defined]
    await _remember_erasure(session, client_id)
    return result


async def _remember_erasure(session: AsyncSession, client_id: str) -> None:
    """Fence off activities the terminated workflow scheduled before now (core/store/clients.py)."""
    now = utcnow()
    await session.execute(delete(ErasedClient).where(ErasedClient.erased_at < now - TOMBSTONE_DAYS))
    await session.execute(delete(ErasedClient).where(ErasedClient.client_hash == erased_hash(client_id)))
    session.add(ErasedClient(client_hash=erased_hash(client_id), erased_at=now))


async def scrub_sqlite(engine: AsyncEngine) -> None:
    """After an erasure on SQLite, leave no copy of the erased rows in the file.

    The search index (``client_search_fts``) marks a deleted entry in a newer segment and
    keeps the old one until segments merge: 'optimize' merges them all now (~2 s at a million
    clients; erasures are rare), and ``secure_delete`` zeroes the pages that frees. Then the
    write-ahead log, which still holds the erased rows' old pages, is checkpointed and
    truncated: best effort (a long reader can hold the log). PostgreSQL reclaims dead rows by
    (auto)vacuum.
    """
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as conn:
        await conn.execute(insert(SEARCH_INDEX).values({SEARCH_INDEX_TABLE: "optimize"}))
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


async def _keep_hash(session: AsyncSession, secret: str, address: str, reasons: set[str]) -> int:
    hashed = address_hash(secret, address)
    # A pseudonymous id derived from the hash: unique per address, names nobody.
    holder = f"erased-{hashed.removeprefix(HASH_PREFIX)[:40]}"
    dialect = session.get_bind().dialect.name
    for reason in sorted(reasons | {ERASED_REASON}):
        row = {"client_id": holder, "email": hashed, "reason": reason, "created_at": utcnow()}
        await session.execute(
            insert_ignoring_conflicts(dialect, Suppression.__table__, row, ["client_id", "reason"])
        )
    return 1


async def is_suppressed(session: AsyncSession, secret: str, client_id: str, address: str | None) -> bool:
    """The client, or the address in either form, is on the suppression list."""
    conditions = [Suppression.client_id == client_id]
    if address:
        conditions.append(Suppression.email.in_(suppressed_forms(secret, address)))
    query = select(Suppression.id).where(or_(*conditions)).limit(1)
    return (await session.scalar(query)) is not None
