"""client search: a trigram index on SQLite, and a stable integer key for it

Revision ID: f2c7d9a41b58
Revises: e8b41f6c2a97
Create Date: 2026-12-04 23:40:00.000000

On SQLite a search read every row of ``client_search`` (~75 ms at a million clients for
the scan alone). An FTS5 table with the ``trigram`` tokenizer, ``client_search_fts``, now
indexes that text: a substring of three characters or more is found from the index. It is
an external-content table (it keeps the index, not a second copy of the text), keyed by
``client_search.id``: a new ``INTEGER PRIMARY KEY``, because the implicit rowid of a table
keyed by text may change on VACUUM. Triggers on ``client_search`` keep the index current.

An erased client's trigrams stay in the index's older segments until they are merged;
``core.store.privacy.scrub_sqlite`` merges them (FTS5's 'optimize') after every erasure, and
``secure_delete`` zeroes the pages that frees.

PostgreSQL keeps its trigram GIN index; it gets the same ``id`` column so that one model
describes both. The FTS tables are not in the models (``core.store.models.in_models``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2c7d9a41b58"
down_revision: str | None = "e8b41f6c2a97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "client_search_fts"
TEXT = "coalesce({row}.first_name, '') || char(31) || coalesce({row}.last_name, '') || char(31) || coalesce({row}.email, '')"

# The triggers of e8b41f6c2a97 that fill client_search from clients, dropped with the table
# and made again (the update skips rows whose text did not change: no index churn).
CLIENT_TRIGGERS = {
    "client_search_insert": (
        "AFTER INSERT ON clients BEGIN\n"
        f"  INSERT INTO client_search (client_id, text) VALUES (NEW.id, {TEXT.format(row='NEW')});\nEND"
    ),
    "client_search_update": (
        "AFTER UPDATE OF first_name, last_name, email ON clients BEGIN\n"
        f"  UPDATE client_search SET text = {TEXT.format(row='NEW')}\n"
        f"  WHERE client_id = NEW.id AND text IS NOT {TEXT.format(row='NEW')};\nEND"
    ),
    "client_search_delete": (
        "AFTER DELETE ON clients BEGIN\n  DELETE FROM client_search WHERE client_id = OLD.id;\nEND"
    ),
}
_REMOVE = f"INSERT INTO {FTS} ({FTS}, rowid, text) VALUES ('delete', OLD.id, OLD.text);"
_ADD = f"INSERT INTO {FTS} (rowid, text) VALUES (NEW.id, NEW.text);"
INDEX_TRIGGERS = {
    "client_search_fts_insert": f"AFTER INSERT ON client_search BEGIN\n  {_ADD}\nEND",
    "client_search_fts_delete": f"AFTER DELETE ON client_search BEGIN\n  {_REMOVE}\nEND",
    "client_search_fts_update": f"AFTER UPDATE OF text ON client_search BEGIN\n  {_REMOVE}\n  {_ADD}\nEND",
}


def _sqlite_table(integer_key: bool) -> None:
    """(Re)make client_search with or without the integer key, filled from clients."""
    for name in CLIENT_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("client_search")
    if integer_key:
        op.create_table(
            "client_search",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("client_id", sa.String(length=128), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_client_search")),
            sa.UniqueConstraint("client_id", name=op.f("uq_client_search_client_id")),
        )
    else:
        op.create_table(
            "client_search",
            sa.Column("client_id", sa.String(length=128), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_search")),
        )
    op.execute(
        f"INSERT INTO client_search (client_id, text) SELECT id, {TEXT.format(row='clients')} FROM clients"
    )
    for name, body in CLIENT_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE client_search ADD COLUMN id BIGSERIAL NOT NULL")
        op.execute(
            "ALTER TABLE client_search DROP CONSTRAINT pk_client_search,"
            " ADD CONSTRAINT pk_client_search PRIMARY KEY (id),"
            " ADD CONSTRAINT uq_client_search_client_id UNIQUE (client_id)"
        )
        return
    _sqlite_table(integer_key=True)
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='client_search', content_rowid='id',"
        " tokenize='trigram')"
    )
    op.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")
    for name, body in INDEX_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute(
            "ALTER TABLE client_search DROP CONSTRAINT uq_client_search_client_id,"
            " DROP CONSTRAINT pk_client_search, DROP COLUMN id,"
            " ADD CONSTRAINT pk_client_search PRIMARY KEY (client_id)"
        )
        return
    for name in INDEX_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
    _sqlite_table(integer_key=False)
