"""client list indexes: every sort column with id, the tie-break, so deep pages read an index

Revision ID: a3f9c2d81e56
Revises: d51c0e8a7f23
Create Date: 2026-12-04 14:20:00.000000

The clients page sorts by score, last order, name or order count, then id. An index on the
sort column alone leaves SQLite sorting every row again for the id tie-break (page 500 of
a million clients took 60-90 ms); with id at the end the page is read from the index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'a3f9c2d81e56'
down_revision: str | None = 'd51c0e8a7f23'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLACED = {  # old index -> (new index, columns)
    'ix_clients_score': ('ix_clients_score_id', ['score', 'id']),
    'ix_clients_last_order_at': ('ix_clients_last_order_at_id', ['last_order_at', 'id']),
    'ix_clients_tier_score': ('ix_clients_tier_score_id', ['tier', 'score', 'id']),
    'ix_clients_tier_last_order_at': ('ix_clients_tier_last_order_at_id', ['tier', 'last_order_at', 'id']),
}
ADDED = {
    'ix_clients_last_name_id': ['last_name', 'id'],
    'ix_clients_order_count_id': ['order_count', 'id'],
}


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        for old, (new, columns) in REPLACED.items():
            batch_op.drop_index(old)
            batch_op.create_index(new, columns, unique=False)
        for name, columns in ADDED.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    old_columns = {
        'ix_clients_score': ['score'],
        'ix_clients_last_order_at': ['last_order_at'],
        'ix_clients_tier_score': ['tier', 'score'],
        'ix_clients_tier_last_order_at': ['tier', 'last_order_at'],
    }
    with op.batch_alter_table('clients', schema=None) as batch_op:
        for name in ADDED:
            batch_op.drop_index(name)
        for old, (new, _columns) in REPLACED.items():
            batch_op.drop_index(new)
            batch_op.create_index(old, old_columns[old], unique=False)
