"""Alembic environment: one history for PostgreSQL and SQLite.

The URL comes from ``config.attributes["url"]`` (set by ``core.store.migrate``) or from
the settings, so the same command works for the dev stack, CI and production.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.runtime.settings import Settings
from core.store.db import ensure_sqlite_dir, sync_url
from core.store.models import Base, in_models

config = context.config
url = config.attributes.get("url") or Settings().database.url
url = sync_url(url)
ensure_sqlite_dir(url)


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        include_object=in_models,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # WAL once, at creation: readers never block the writer afterwards.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.commit()  # end the implicit transaction: Alembic begins its own
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=in_models,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
