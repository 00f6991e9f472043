"""One Alembic history for PostgreSQL and SQLite: it round-trips and matches the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.store import migrate
from core.store.db import sync_url
from core.store.models import Base, backend_only, in_models

POSTGRES_URL = os.environ.get("REKINDLE_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    assert POSTGRES_URL
    name = f"rekindle_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield (
        make_url(POSTGRES_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        names = set(inspect(engine).get_table_names()) - {"alembic_version"}
        return {name for name in names if not backend_only("table", name)}
    finally:
        engine.dispose()


def test_migrations_round_trip(empty_db: str) -> None:
    expected = set(Base.metadata.tables)
    migrate.upgrade(empty_db)
    assert _tables(empty_db) == expected
    migrate.downgrade(empty_db, "base")
    assert _tables(empty_db) == set()
    migrate.upgrade(empty_db)
    assert _tables(empty_db) == expected


def test_migrations_match_models(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    engine = create_engine(sync_url(empty_db))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": in_models})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_migrations_rollups_count_the_rows_already_there(empty_db: str) -> None:
    """The rollups revision backfills the counts of a database that has data."""
    import asyncio
    from datetime import timedelta

    from core.runtime.settings import DatabaseSettings
    from core.store import rollups
    from core.store.db import create_engine as create_async_engine
    from core.store.db import session_factory
    from tests.ui import factories as f
    from tests.ui.test_rollups import recount

    migrate.upgrade(empty_db, "5c1e7a9b2d40")
    engine = create_engine(sync_url(empty_db))
    rows = [
        f.client_row(f"c-{i}", tier=t, score=s) for i, (t, s) in enumerate([("at_risk", 20.0), (None, None)])
    ]
    scores = [
        f.score_row("c-0", f.NOW - timedelta(days=9), 70, "active", []),
        f.score_row("c-0", f.NOW - timedelta(days=3), 20, "at_risk", []),
    ]
    with Session(engine) as session, session.begin():
        session.add_all([*rows, f.email_row("c-0", "e-1", status="sent")])
        session.flush()
        session.add_all(scores)
    engine.dispose()
    migrate.upgrade(empty_db)

    async def compare() -> None:
        async_engine = create_async_engine(DatabaseSettings(url=empty_db))
        try:
            async with session_factory(async_engine)() as session:
                expected = await recount(session)
                assert expected["at_risk_day"] == {(f.NOW - timedelta(days=3)).date().isoformat(): 1}
                assert (await rollups.read(session)).counts == expected
        finally:
            await async_engine.dispose()

    asyncio.run(compare())


def test_migrations_search_index_covers_the_clients_already_there(empty_db: str) -> None:
    """The trigram-index revision keys client_search by a new integer id and (on SQLite)
    indexes the text of every client already there; down again, the search table stays full."""
    from tests.ui import factories as f

    migrate.upgrade(empty_db, "e8b41f6c2a97")
    engine = create_engine(sync_url(empty_db))
    sqlite = engine.dialect.name == "sqlite"
    try:
        with Session(engine) as session, session.begin():
            names = ["Lovelace", "Hopper", "Turing"]
            session.add_all([f.client_row(f"c-{n}", last_name=name) for n, name in enumerate(names)])
        migrate.upgrade(empty_db)
        with engine.begin() as conn:
            keyed = conn.execute(text("SELECT client_id, id FROM client_search ORDER BY client_id")).all()
            assert [row[0] for row in keyed] == ["c-0", "c-1", "c-2"]
            assert len({row[1] for row in keyed}) == 3
            if sqlite:
                found = "SELECT rowid FROM client_search_fts WHERE client_search_fts MATCH :q"
                assert conn.execute(text(found), {"q": '"OPPE"'}).scalars().all() == [keyed[1][1]]
            conn.execute(text("UPDATE clients SET last_name = 'Hamilton' WHERE id = 'c-1'"))
            if sqlite:
                assert conn.execute(text(found), {"q": '"oppe"'}).scalars().all() == []
                assert conn.execute(text(found), {"q": '"milt"'}).scalars().all() == [keyed[1][1]]
        migrate.downgrade(empty_db, "e8b41f6c2a97")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT client_id, text FROM client_search ORDER BY client_id")).all()
            assert [(cid, t.split("\x1f")[1]) for cid, t in rows] == [
                ("c-0", "Lovelace"),
                ("c-1", "Hamilton"),
                ("c-2", "Turing"),
            ]
            if sqlite:
                assert "client_search_fts" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
