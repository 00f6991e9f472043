"""ops actions: user roles, audit log, client pauses, webhook outbox and deliveries

Existing ops users become ``admin``: until now every user could do everything, so no one
loses access on upgrade; demote with ``rekindle opsuser set-role``.

Revision ID: c4e19a7d2b31
Revises: 5e1f7a2c9b10
Create Date: 2026-12-02 15:08:09.686266
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = 'c4e19a7d2b31'
down_revision: str | None = '5e1f7a2c9b10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=True),
    sa.Column('target_id', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action_id', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_target_id_id', ['target_id', 'id'], unique=False)

    op.create_table('outbox_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=48), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=True),
    sa.Column('occurred_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_events_event_id'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_events_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_events_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('disabled_at', core.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('client_pauses',
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('paused_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paused_until', core.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_by', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('resumed_at', core.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resumed_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_pauses_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_pauses'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('first_attempt_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', core.store.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_seq', name=op.f('uq_webhook_deliveries_endpoint_id_event_seq'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_endpoint_id_id', ['endpoint_id', 'id'], unique=False)

    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.create_index('ix_emails_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_emails_status_created_at_id', ['status', 'created_at', 'id'], unique=False)

    with op.batch_alter_table('ops_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='admin', nullable=False))
        batch_op.add_column(sa.Column('disabled_at', core.store.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('ops_users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('role')

    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_index('ix_emails_status_created_at_id')
        batch_op.drop_index('ix_emails_created_at_id')

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_endpoint_id_id')

    op.drop_table('webhook_deliveries')
    op.drop_table('client_pauses')
    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_events_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_events_client_id'))

    op.drop_table('outbox_events')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target_id_id')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index('ix_audit_log_actor_id')
        batch_op.drop_index('ix_audit_log_action_id')

    op.drop_table('audit_log')
