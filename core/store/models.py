"""ORM models: the read model for the dashboard and the training set for the refit.

Temporal is the source of truth for in-flight work; these tables record what
happened. Every activity write is keyed by a natural id so retries are harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import column, table

from core.store.db import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Indexes a migration makes where the backend allows, that the models cannot declare for one
# backend only: PostgreSQL's trigram index for searches (migration e8b41f6c2a97).
BACKEND_ONLY_INDEXES = frozenset({"ix_client_search_text_trgm"})
# SQLite's trigram index for searches (migration f2c7d9a41b58): an FTS5 virtual table, and
# the tables FTS5 keeps it in (named after it: client_search_fts_data, _idx, ...).
SEARCH_INDEX_TABLE = "client_search_fts"
# That index, to query (its rowid is client_search.id; the column named after it takes a
# MATCH) and to command (an insert into that column: 'optimize', 'rebuild').
SEARCH_INDEX = table(SEARCH_INDEX_TABLE, column("rowid"), column(SEARCH_INDEX_TABLE))


def backend_only(type_: str, name: str | None) -> bool:
    """Whether a migration made this index or table for one backend, outside the models."""
    if type_ == "index":
        return name in BACKEND_ONLY_INDEXES
    return type_ == "table" and name is not None and name.startswith(SEARCH_INDEX_TABLE)


def in_models(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's ``include_object``: compare everything but what is ``backend_only``."""
    return not backend_only(type_, name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Client(Base):
    """A client of the retailer, with the aggregates the dashboard lists by."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(35))
    style_notes: Mapped[str | None] = mapped_column(Text)
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    score: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str | None] = mapped_column(String(16), index=True)
    segment: Mapped[str | None] = mapped_column(String(32), index=True)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        # The dashboard lists clients by each sort column, all or of one tier; id, the
        # tie-break of every sort, ends each index so a page deep in the list is read
        # from the index alone (SQLite's implicit rowid is not the id).
        Index("ix_clients_score_id", "score", "id"),
        Index("ix_clients_last_order_at_id", "last_order_at", "id"),
        Index("ix_clients_last_name_id", "last_name", "id"),
        Index("ix_clients_order_count_id", "order_count", "id"),
        Index("ix_clients_tier_score_id", "tier", "score", "id"),
        Index("ix_clients_tier_last_order_at_id", "tier", "last_order_at", "id"),
    )


class ClientSearch(Base):
    """What a dashboard search matches: first name, last name and email joined by U+001F.

    One narrow row per client, kept current by triggers (migration ``e8b41f6c2a97``): a
    substring search reads this instead of every client's whole row. On SQLite the trigram
    index ``client_search_fts`` is keyed by ``id`` (migration ``f2c7d9a41b58``).
    """

    __tablename__ = "client_search"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)


class Order(Base):
    """One order; ``order_id`` is the retailer's id and makes recording idempotent."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime]

    __table_args__ = (Index("ix_orders_client_id_placed_at", "client_id", "placed_at"),)


class EngagementScore(Base):
    """A score as computed at one moment, kept as history for charts."""

    __tablename__ = "engagement_scores"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scored_at: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(32))
    p_alive: Mapped[float | None] = mapped_column(Float)
    p_order_again: Mapped[float | None] = mapped_column(Float)
    expected_orders: Mapped[float | None] = mapped_column(Float)
    expected_value: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_version: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("client_id", "scored_at"),
        # The dashboard's at-risk-over-time chart reads only clients ever at risk, index-only.
        Index("ix_engagement_scores_tier_client_id", "tier", "client_id"),
        Index("ix_engagement_scores_client_id_scored_at_tier", "client_id", "scored_at", "tier"),
    )


class Email(Base):
    """A re-engagement email from draft to delivery; its status is the send ledger."""

    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24), index=True)
    subject: Mapped[str | None] = mapped_column(String(300))
    preheader: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    generator: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(32))
    token_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    guardrails: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None]
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None]
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    to_address: Mapped[str | None] = mapped_column(String(320))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_emails_client_id_created_at", "client_id", "created_at"),)


class EmailEvent(Base):
    """The email timeline: drafted, approved by whom, sent, cancelled, ..."""

    __tablename__ = "email_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    email_id: Mapped[str] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("email_id", "kind", "at"),)


class Suppression(Base):
    """An address we must never email again (unsubscribed or hard-bounced)."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("client_id", "reason"),)


class ClientDataKey(Base):
    """A client's payload data key, wrapped (AES-GCM) by a master codec key.

    Every payload of the client's workflow is encrypted under it (core/store/datakeys.py); erasing
    the client deletes this row, which leaves their Temporal history undecodable.
    """

    __tablename__ = "client_data_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    master_key_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class ErasedClient(Base):
    """A recent erasure, by a hash of the client id: activities the erased workflow scheduled
    before it must not write the client back (core/store/clients.py). Pruned after a week."""

    __tablename__ = "erased_clients"

    client_hash: Mapped[str] = mapped_column(String(80), primary_key=True)
    erased_at: Mapped[datetime]


class ModelParameterSet(Base):
    """A versioned, fitted parameter set for the engagement model."""

    __tablename__ = "model_parameters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    fitted_at: Mapped[datetime]
    n_clients: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    bgnbd_log_likelihood: Mapped[float | None] = mapped_column(Float)
    gamma_gamma_log_likelihood: Mapped[float | None] = mapped_column(Float)


class ApiKey(Base):
    """A service credential: only a hash of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OpsUser(Base):
    """A person who signs in to the dashboard; only a salted scrypt hash of the password is kept."""

    __tablename__ = "ops_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    # viewer reads, approver also decides and acts on clients, admin also manages (core/roles.py)
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    disabled_at: Mapped[datetime | None]


class DeliveryEvent(Base):
    """What a mail provider (or a DSN) told us after sending: delivered, bounced, complained.

    Unique by (provider, event id), so a webhook retried by the provider changes nothing.
    No address is kept here: the client and the email are the keys.
    """

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(24))
    client_id: Mapped[str | None] = mapped_column(String(128))
    email_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        # Soft bounces are counted per client since their last delivery.
        Index("ix_delivery_events_client_id_kind", "client_id", "kind"),
    )


class ConsentEvent(Base):
    """A client's consent changing: unsubscribed, paused until, resubscribed; when and from where."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    until: Mapped[datetime | None]


class PolicyVersion(Base):
    """One version of the live policy document; every version is kept (who, when, what changed)."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


# The ops tables share this metadata: importing them here lets every user of ``Base.metadata``
# (Alembic, the migration test, test cleanup) see them without knowing the module.
from core.store import ops_models as _ops_models  # noqa: E402, F401


class UpliftEpisode(Base):
    """A client's uplift episode: the first email that was sent (arm ``emailed``) or held out
    (``holdout``), drafted at ``anchor``, and the client's first order after it.

    Kept current by triggers on ``emails`` and ``orders`` (migration ``d51c0e8a7f23``), by
    the rules of ``core.domain.uplift``; the uplift report reads its rollup (``uplift``).
    """

    __tablename__ = "uplift_episodes"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    arm: Mapped[str] = mapped_column(String(8))
    anchor: Mapped[datetime] = mapped_column(index=True)
    reordered_at: Mapped[datetime | None]


class Rollup(Base):
    """One of the dashboard's pre-aggregated counts, as of the last compaction.

    ``dimension`` names what is counted (``core/store/rollups.py`` lists them) and ``key``
    the value counted: clients of tier ``at_risk``, emails of status ``sent``, the net number
    of clients who entered the at-risk tier on one day. The true count is this plus the
    deltas in ``rollup_deltas`` not yet folded in.
    """

    __tablename__ = "rollups"

    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class RollupDelta(Base):
    """A change to a rollup, appended by a database trigger in the same transaction as the
    write it counts (so no writer can forget it, and concurrent writers never contend on
    one counter row); ``core.store.rollups.compact`` folds them into ``rollups``."""

    __tablename__ = "rollup_deltas"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(32))
    delta: Mapped[int] = mapped_column(BigInteger)
