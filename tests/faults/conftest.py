"""Fault-test fixtures: one database per test (PostgreSQL when configured, else SQLite) and
the API served in the test's loop for a worker that runs as a real subprocess."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from core.runtime.settings import DatabaseSettings, Settings, SmtpSettings, TemporalSettings
from core.store.apikeys import create_key
from core.store.db import create_engine, session_factory
from tests.faults.scenario import FAULT_POLICY
from tests.helpers import TEST_SECURITY, serve_app, truncate_all


@pytest.fixture
def fault_db_url(tmp_path: Path, sqlite_template: Path, postgres_database: str | None) -> Iterator[str]:
    """One backend per fault test (they are slow): PostgreSQL when configured, else SQLite."""
    if postgres_database is None:
        path = tmp_path / "faults.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    yield postgres_database
    truncate_all(postgres_database)


def fault_settings(db_url: str, temporal_address: str, smtp_port: int, **llm: object) -> Settings:
    """The fault scenario's settings: own queues, auto-approving policy, the given servers."""
    base = Settings(_env_file=None)
    suffix = uuid.uuid4().hex[:8]
    temporal = TemporalSettings(
        address=temporal_address,
        task_queue=f"faults-{suffix}",
        send_task_queue=f"faults-send-{suffix}",
        llm_task_queue=f"faults-llm-{suffix}",
        refit_task_queue=f"faults-refit-{suffix}",
    )
    return base.model_copy(
        update={
            "database": DatabaseSettings(url=db_url),
            "security": TEST_SECURITY,
            "temporal": temporal,
            "policy": FAULT_POLICY,
            "smtp": SmtpSettings(port=smtp_port),
            "llm": base.llm.model_copy(update=llm),
        }
    )


@dataclass
class Api:
    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    @property
    def unsubscribe_secret(self) -> str:
        return self.settings.security.unsubscribe_secret.get_secret_value()


@contextlib.asynccontextmanager
async def serve_api(settings: Settings, temporal: Client) -> AsyncIterator[Api]:
    """The API on loopback with an admin key, and a session factory on the same database."""
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    token = (await create_key(sessions, "faults", ("admin",))).token
    app = create_app(settings, temporal=temporal)
    try:
        async with (
            serve_app(app) as base_url,
            httpx.AsyncClient(
                base_url=base_url, timeout=30, headers={"authorization": f"Bearer {token}"}
            ) as http,
        ):
            yield Api(http, sessions, settings)
    finally:
        await engine.dispose()
