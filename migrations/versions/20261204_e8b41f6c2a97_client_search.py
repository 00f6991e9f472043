"""client search: the text a search matches, one narrow row per client, kept by triggers

Revision ID: e8b41f6c2a97
Revises: a3f9c2d81e56
Create Date: 2026-12-04 14:30:00.000000

A dashboard search matches words anywhere in a client's first name, last name or email:
no index serves a substring, so it reads every client. ``client_search`` holds just that
text (the three fields joined by U+001F, a character no field or search contains), so the
read is of a narrow table, not of the clients' whole rows. Triggers keep it current;
deleting a client deletes its row (SQLite's secure_delete zeroes it as for the client).

On PostgreSQL, where the database lets this role create the ``pg_trgm`` extension (a
trusted extension: a database owner may), a trigram GIN index serves ILIKE '%word%'
outright; without it the search reads the narrow table, as on SQLite. The models do not
declare that index (it exists only here): ``core.store.models.in_models`` tells Alembic.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e8b41f6c2a97'
down_revision: str | None = 'a3f9c2d81e56'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TRIGRAM_INDEX = 'ix_client_search_text_trgm'


def _text(row: str, dialect: str) -> str:
    sep = 'char(31)' if dialect == 'sqlite' else 'chr(31)'
    fields = [f"coalesce({row}.{name}, '')" for name in ('first_name', 'last_name', 'email')]
    return f' || {sep} || '.join(fields)


SQLITE = [
    'CREATE TRIGGER client_search_insert AFTER INSERT ON clients BEGIN\n'
    f"  INSERT INTO client_search (client_id, text) VALUES (NEW.id, {_text('NEW', 'sqlite')});\nEND",
    'CREATE TRIGGER client_search_update AFTER UPDATE OF first_name, last_name, email ON clients BEGIN\n'
    f"  UPDATE client_search SET text = {_text('NEW', 'sqlite')} WHERE client_id = NEW.id;\nEND",
    'CREATE TRIGGER client_search_delete AFTER DELETE ON clients BEGIN\n'
    '  DELETE FROM client_search WHERE client_id = OLD.id;\nEND',
]
PG = {  # name -> (event, transition tables, body)
    'client_search_insert': (
        'INSERT',
        'NEW TABLE AS added',
        f"INSERT INTO client_search (client_id, text) SELECT added.id, {_text('added', 'pg')} FROM added",
    ),
    'client_search_update': (
        'UPDATE',
        'NEW TABLE AS added',
        f"UPDATE client_search SET text = {_text('added', 'pg')} FROM added"
        f" WHERE client_search.client_id = added.id AND client_search.text IS DISTINCT FROM {_text('added', 'pg')}",
    ),
    'client_search_delete': (
        'DELETE',
        'OLD TABLE AS removed',
        'DELETE FROM client_search WHERE client_id IN (SELECT id FROM removed)',
    ),
}


def upgrade() -> None:
    op.create_table(
        'client_search',
        sa.Column('client_id', sa.String(length=128), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_search')),
    )
    dialect = op.get_bind().dialect.name
    op.execute(f"INSERT INTO client_search (client_id, text) SELECT id, {_text('clients', dialect)} FROM clients")
    if dialect == 'sqlite':
        for statement in SQLITE:
            op.execute(statement)
        return
    bind = op.get_bind()
    try:
        with bind.begin_nested():  # a savepoint: a refusal must not abort the migration
            bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except sa.exc.DBAPIError:
        pass  # no trigram index: searches read client_search instead
    else:
        op.execute(f'CREATE INDEX {TRIGRAM_INDEX} ON client_search USING gin (text gin_trgm_ops)')
    for name, (event, tables, body) in PG.items():
        op.execute(f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  {body};\n  RETURN NULL;\nEND\n$$')
        op.execute(
            f'CREATE TRIGGER {name} AFTER {event} ON clients REFERENCING {tables}\n'
            f'FOR EACH STATEMENT EXECUTE FUNCTION {name}()'
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for name in PG:
        op.execute(f'DROP TRIGGER IF EXISTS {name}' + ('' if sqlite else ' ON clients'))
        if not sqlite:
            op.execute(f'DROP FUNCTION IF EXISTS {name}()')
    op.execute(f'DROP INDEX IF EXISTS {TRIGRAM_INDEX}')  # the extension stays: others may use it
    op.drop_table('client_search')
