"""uplift episodes: each client's first re-engagement email and first reorder, kept by triggers

Revision ID: d51c0e8a7f23
Revises: b07a24b80c68
Create Date: 2026-12-04 14:05:00.000000

The uplift report counts, per arm and window, the episodes whose window has closed and
those that reordered within it. An episode is a client's first email that was sent or held
out (``anchor``: when it was drafted; ``arm``: holdout wins a tie), and ``reordered_at`` the
client's first order after the anchor: the rules of ``core.domain.uplift``. Triggers on
``emails`` and ``orders`` keep ``uplift_episodes`` current (a client's episode is recomputed
when one of its sent/held-out emails, or an order after its anchor, changes), and triggers
on ``uplift_episodes`` keep the rollup ``uplift`` current: episodes per
``arm|anchor day|first window that holds the reorder`` ('30', '60', '90', '-' for none), so
the report reads a few thousand counts, plus the episodes of the one anchor day each window
boundary falls on, instead of every email and order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.db

revision: str = 'd51c0e8a7f23'
down_revision: str | None = 'b07a24b80c68'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPISODE = "('sent', 'holdout')"
WINDOWS = (30, 60, 90)


def _episodes_of(clients: str) -> str:
    """INSERT the episodes of the clients ``clients`` selects (all: ``None``), from the tables."""
    only = '' if clients == 'ALL' else f' AND client_id IN ({clients})'
    return (
        'INSERT INTO uplift_episodes (client_id, arm, anchor, reordered_at)\n'
        "  SELECT a.client_id, CASE WHEN min(e.status) = 'sent' THEN 'emailed' ELSE 'holdout' END, a.anchor,\n"
        '    (SELECT min(o.placed_at) FROM orders AS o WHERE o.client_id = a.client_id AND o.placed_at > a.anchor)\n'
        '  FROM (\n'
        f'    SELECT client_id, min(created_at) AS anchor FROM emails WHERE status IN {EPISODE}{only}\n'
        '    GROUP BY client_id\n'
        '  ) AS a\n'
        f'  JOIN emails AS e ON e.client_id = a.client_id AND e.created_at = a.anchor AND e.status IN {EPISODE}\n'
        '  GROUP BY a.client_id, a.anchor'
    )


def _recompute(clients: str) -> list[str]:
    return [f'DELETE FROM uplift_episodes WHERE client_id IN ({clients})', _episodes_of(clients)]


def _reorder_of(clients: str) -> str:
    """Set ``reordered_at`` again from the orders, for those clients' episodes."""
    first = (
        'SELECT min(o.placed_at) FROM orders AS o'
        ' WHERE o.client_id = uplift_episodes.client_id AND o.placed_at > uplift_episodes.anchor'
    )
    return (  # no alias: SQLite's triggers do not take one
        f'UPDATE uplift_episodes SET reordered_at = ({first})\n'
        f'  WHERE client_id IN ({clients}) AND reordered_at IS DISTINCT FROM ({first})'
    )


def _key(row: str, dialect: str) -> str:
    """An episode's rollup key: arm|anchor day|first window holding the reorder."""
    if dialect == 'sqlite':
        day = f'date({row}.anchor)'
        gap = f'(julianday({row}.reordered_at) - julianday({row}.anchor))'
    else:
        day = f"to_char({row}.anchor AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        gap = f'(extract(epoch FROM {row}.reordered_at - {row}.anchor) / 86400.0)'
    windows = ' '.join(f"WHEN {gap} <= {days} THEN '{days}'" for days in WINDOWS)
    window = f"CASE WHEN {row}.reordered_at IS NULL THEN '-' {windows} ELSE '-' END"
    return f"{row}.arm || '|' || {day} || '|' || {window}"


def _episode_deltas(rows: str, sign: str, dialect: str) -> str:
    source = '' if rows in ('NEW', 'OLD') else f' FROM {rows}'
    return f"SELECT 'uplift' AS dimension, {_key(rows, dialect)} AS key, {sign} AS delta{source}"


def _net(changes: str) -> str:
    return (
        'INSERT INTO rollup_deltas (dimension, key, delta)\n'
        f'  SELECT dimension, key, sum(delta) FROM ({changes}) AS changes\n'
        '  GROUP BY dimension, key HAVING sum(delta) <> 0'
    )


def _sqlite_upgrade() -> list[str]:
    def trigger(name: str, event: str, when: str, statements: list[str]) -> str:
        body = ''.join(f'  {s};\n' for s in statements)
        return f'CREATE TRIGGER {name} {event} WHEN {when} BEGIN\n{body}END'

    new_first = (
        'UPDATE uplift_episodes SET reordered_at = NEW.placed_at WHERE client_id = NEW.client_id'
        ' AND anchor < NEW.placed_at AND (reordered_at IS NULL OR reordered_at > NEW.placed_at)'
    )
    return [
        trigger('uplift_emails_insert', 'AFTER INSERT ON emails', f'NEW.status IN {EPISODE}',
                _recompute('NEW.client_id')),
        trigger('uplift_emails_update', 'AFTER UPDATE OF status, created_at, client_id ON emails',
                f'OLD.status IN {EPISODE} OR NEW.status IN {EPISODE}',
                _recompute('OLD.client_id, NEW.client_id')),
        trigger('uplift_emails_delete', 'AFTER DELETE ON emails', f'OLD.status IN {EPISODE}',
                _recompute('OLD.client_id')),
        trigger('uplift_orders_insert', 'AFTER INSERT ON orders', 'true', [new_first]),
        trigger('uplift_orders_update', 'AFTER UPDATE OF placed_at, client_id ON orders', 'true',
                [_reorder_of('OLD.client_id, NEW.client_id')]),
        trigger('uplift_orders_delete', 'AFTER DELETE ON orders', 'true', [_reorder_of('OLD.client_id')]),
        trigger('rollup_uplift_insert', 'AFTER INSERT ON uplift_episodes', 'true',
                [_net(_episode_deltas('NEW', '1', 'sqlite'))]),
        trigger('rollup_uplift_update', 'AFTER UPDATE ON uplift_episodes', 'true',
                [_net(_episode_deltas('OLD', '-1', 'sqlite') + ' UNION ALL '
                      + _episode_deltas('NEW', '1', 'sqlite'))]),
        trigger('rollup_uplift_delete', 'AFTER DELETE ON uplift_episodes', 'true',
                [_net(_episode_deltas('OLD', '-1', 'sqlite'))]),
    ]


SQLITE_TRIGGERS = [
    'uplift_emails_insert',
    'uplift_emails_update',
    'uplift_emails_delete',
    'uplift_orders_insert',
    'uplift_orders_update',
    'uplift_orders_delete',
    'rollup_uplift_insert',
    'rollup_uplift_update',
    'rollup_uplift_delete',
]

PG_TABLES = {  # event -> the transition tables a statement trigger declares
    'INSERT': 'NEW TABLE AS added',
    'UPDATE': 'OLD TABLE AS removed NEW TABLE AS added',
    'DELETE': 'OLD TABLE AS removed',
}


def _pg_changed(event: str, condition: str = '') -> str:
    """The client ids a statement's rows touch (``condition`` filters the rows)."""
    where = f' WHERE {condition}' if condition else ''
    parts = {'INSERT': ['added'], 'UPDATE': ['removed', 'added'], 'DELETE': ['removed']}[event]
    return ' UNION '.join(f'SELECT client_id FROM {t}{where}' for t in parts)


def _pg_upgrade() -> list[str]:
    functions: dict[tuple[str, str, str], list[str]] = {}
    for event in ('INSERT', 'UPDATE', 'DELETE'):
        low = event.lower()
        functions[('emails', event, f'uplift_emails_{low}')] = _recompute(_pg_changed(event, f'status IN {EPISODE}'))
        functions[('orders', event, f'uplift_orders_{low}')] = [_reorder_of(_pg_changed(event))]
        changes = {
            'INSERT': _episode_deltas('added', '1', 'pg'),
            'UPDATE': _episode_deltas('removed', '-1', 'pg') + ' UNION ALL ' + _episode_deltas('added', '1', 'pg'),
            'DELETE': _episode_deltas('removed', '-1', 'pg'),
        }[event]
        functions[('uplift_episodes', event, f'rollup_uplift_{low}')] = [_net(changes)]
    statements = []
    for (table, event, name), body in functions.items():
        code = ''.join(f'  {s};\n' for s in body)
        statements.append(
            f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{code}  RETURN NULL;\nEND\n$$'
        )
        statements.append(
            f'CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {PG_TABLES[event]}\n'
            f'FOR EACH STATEMENT EXECUTE FUNCTION {name}()'
        )
    return statements


PG_TRIGGERS = {
    f'{prefix}_{event}': table
    for prefix, table in [('uplift_emails', 'emails'), ('uplift_orders', 'orders'), ('rollup_uplift', 'uplift_episodes')]
    for event in ('insert', 'update', 'delete')
}


def upgrade() -> None:
    op.create_table(
        'uplift_episodes',
        sa.Column('client_id', sa.String(length=128), nullable=False),
        sa.Column('arm', sa.String(length=8), nullable=False),
        sa.Column('anchor', core.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reordered_at', core.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('client_id', name=op.f('pk_uplift_episodes')),
    )
    with op.batch_alter_table('uplift_episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uplift_episodes_anchor'), ['anchor'], unique=False)
    dialect = op.get_bind().dialect.name
    op.execute(_episodes_of('ALL'))
    op.execute(
        'INSERT INTO rollups (dimension, key, count)\n'
        f"  SELECT 'uplift', {_key('uplift_episodes', dialect)}, count(*) FROM uplift_episodes GROUP BY 2"
    )
    for statement in _sqlite_upgrade() if dialect == 'sqlite' else _pg_upgrade():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    drops = (
        [f'DROP TRIGGER IF EXISTS {name}' for name in SQLITE_TRIGGERS]
        if sqlite
        else [f'DROP TRIGGER IF EXISTS {n} ON {t}; DROP FUNCTION IF EXISTS {n}()' for n, t in PG_TRIGGERS.items()]
    )
    drops += [f"DELETE FROM {table} WHERE dimension = 'uplift'" for table in ('rollups', 'rollup_deltas')]
    for statement in drops:
        op.execute(statement)
    with op.batch_alter_table('uplift_episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uplift_episodes_anchor'))
    op.drop_table('uplift_episodes')
