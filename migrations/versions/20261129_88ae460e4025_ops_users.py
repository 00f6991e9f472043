"""ops users: dashboard sign-in

Revision ID: 88ae460e4025
Revises: f171bf965168
Create Date: 2026-11-29 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = '88ae460e4025'
down_revision: str | None = 'f171bf965168'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ops_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_users')),
    sa.UniqueConstraint('username', name=op.f('uq_ops_users_username'))
    )


def downgrade() -> None:
    op.drop_table('ops_users')
