"""policy versions: the live policy document, every version kept with who, when and the diff

Revision ID: 5c1e7a9b2d40
Revises: 5e1f0a3c9b27
Create Date: 2026-12-02 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = '5c1e7a9b2d40'
down_revision: str | None = '5e1f0a3c9b27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'policy_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('created_at', core.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
        sa.UniqueConstraint('version', name=op.f('uq_policy_versions_version')),
    )


def downgrade() -> None:
    op.drop_table('policy_versions')
