"""delivery feedback and consent history: delivery_events, consent_events, emails.message_id index

Revision ID: 5e1f7a2c9b10
Revises: 0610dafed936
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = '5e1f7a2c9b10'
down_revision: str | None = '0610dafed936'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=True),
    sa.Column('email_id', sa.String(length=64), nullable=True),
    sa.Column('occurred_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_events')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_delivery_events_provider_event_id'))
    )
    op.create_index('ix_delivery_events_client_id_kind', 'delivery_events', ['client_id', 'kind'], unique=False)
    op.create_table('consent_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('until', core.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events'))
    )
    op.create_index(op.f('ix_consent_events_client_id'), 'consent_events', ['client_id'], unique=False)
    op.create_index(op.f('ix_emails_message_id'), 'emails', ['message_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_emails_message_id'), table_name='emails')
    op.drop_index(op.f('ix_consent_events_client_id'), table_name='consent_events')
    op.drop_table('consent_events')
    op.drop_index('ix_delivery_events_client_id_kind', table_name='delivery_events')
    op.drop_table('delivery_events')
