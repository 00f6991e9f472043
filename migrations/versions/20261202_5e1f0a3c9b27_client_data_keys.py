"""client data keys: one wrapped payload key per client, destroyed on erasure; erased clients

Revision ID: 5e1f0a3c9b27
Revises: c4e19a7d2b31
Create Date: 2026-12-02 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = '5e1f0a3c9b27'
down_revision: str | None = 'c4e19a7d2b31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('client_data_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('master_key_id', sa.String(length=64), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_client_data_keys')),
    sa.UniqueConstraint('client_id', name=op.f('uq_client_data_keys_client_id'))
    )
    op.create_table('erased_clients',
    sa.Column('client_hash', sa.String(length=80), nullable=False),
    sa.Column('erased_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_hash', name=op.f('pk_erased_clients'))
    )


def downgrade() -> None:
    op.drop_table('erased_clients')
    op.drop_table('client_data_keys')
