"""Tables of ops actions and outbound events: audit log, client pauses, webhook outbox.

Kept apart from ``core.store.models`` (same metadata) because they describe what people and
integrations did around clients, not the clients themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, Email

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class AuditEntry(Base):
    """One thing a person or a key did (or tried): append-only, never updated or deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    actor_kind: Mapped[str] = mapped_column(String(16))  # ops_user, api_key, system
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # ok, denied, failed
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(64))  # the caller's address
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
        Index("ix_audit_log_target_id_id", "target_id", "id"),
    )


class ClientPause(Base):
    """The latest pause of a client by ops: the database's record of ``paused``/``resumed``."""

    __tablename__ = "client_pauses"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean)
    paused_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]
    paused_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    resumed_at: Mapped[datetime | None]
    resumed_by: Mapped[str | None] = mapped_column(String(128))


class WebhookEndpoint(Base):
    """An integrator's endpoint: which events it wants and how far its delivery has got."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[Any]] = mapped_column(JSON)
    # The signing key must be readable to sign with; it is shown to the integrator once.
    secret: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # The outbox ``seq`` up to which every event has been delivered (or given up on).
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[datetime | None]


class OutboxEvent(Base):
    """An event for integrators, written in the same transaction as the change it reports."""

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # deterministic: retries insert once
    type: Mapped[str] = mapped_column(String(48))
    client_id: Mapped[str | None] = mapped_column(String(128), index=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookDelivery(Base):
    """What became of one event at one endpoint: attempts, the last error, delivered or not."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    first_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_seq"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )


# The dashboard's emails page: newest first, optionally of one status, keyset-paginated.
Index("ix_emails_created_at_id", Email.created_at, Email.id)
Index("ix_emails_status_created_at_id", Email.status, Email.created_at, Email.id)
