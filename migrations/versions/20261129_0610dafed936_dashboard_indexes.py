"""dashboard indexes: at-risk history read index-only, clients of a tier in order

Revision ID: 0610dafed936
Revises: 88ae460e4025
Create Date: 2026-11-29 07:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0610dafed936'
down_revision: str | None = '88ae460e4025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index('ix_clients_tier_score', ['tier', 'score'], unique=False)
        batch_op.create_index('ix_clients_tier_last_order_at', ['tier', 'last_order_at'], unique=False)
    with op.batch_alter_table('engagement_scores', schema=None) as batch_op:
        batch_op.create_index('ix_engagement_scores_tier_client_id', ['tier', 'client_id'], unique=False)
        batch_op.create_index(
            'ix_engagement_scores_client_id_scored_at_tier', ['client_id', 'scored_at', 'tier'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('engagement_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_engagement_scores_client_id_scored_at_tier')
        batch_op.drop_index('ix_engagement_scores_tier_client_id')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index('ix_clients_tier_last_order_at')
        batch_op.drop_index('ix_clients_tier_score')
