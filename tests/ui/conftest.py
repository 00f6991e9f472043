"""The dashboard served over real HTTP on a test database, and a signed-in ops user."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from core.runtime.settings import Settings
from core.store.opsusers import create_user
from tests.helpers import free_port, serve_app

OPS_USER = "ops.alice"
OPS_PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Dashboard:
    base_url: str
    http: httpx.AsyncClient
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]

    async def csrf(self, path: str = "/ui") -> str:
        page = await self.http.get(path)
        found = CSRF.search(page.text)
        assert found, page.text
        return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, username: str = OPS_USER, password: str = OPS_PASSWORD
) -> httpx.Response:
    page = await http.get("/ui/login")
    found = CSRF.search(page.text)
    assert found, page.text
    return await http.post(
        "/ui/login",
        data={"username": username, "password": password, "csrf_token": found.group(1), "next": "/ui"},
    )


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    """No Temporal listens on this address: pages must not need it."""
    temporal = settings.temporal.model_copy(update={"address": f"127.0.0.1:{free_port()}"})
    return settings.model_copy(update={"temporal": temporal})


async def _serve(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client | None
) -> AsyncIterator[Dashboard]:
    await create_user(sessions, OPS_USER, OPS_PASSWORD)
    app = create_app(settings, temporal=temporal)
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield Dashboard(base_url, http, settings, sessions)


@pytest.fixture
async def dashboard(
    ui_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Dashboard]:
    """The app on loopback with an ops user; the HTTP client is signed in."""
    async for served in _serve(ui_settings, sessions, None):
        response = await sign_in(served.http)
        assert response.status_code == 303, response.text
        yield served


@pytest.fixture
async def anonymous(
    ui_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Dashboard]:
    """The same, not signed in."""
    async for served in _serve(ui_settings, sessions, None):
        yield served


@pytest.fixture
async def temporal_dashboard(
    dev_client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Dashboard]:
    """Signed in, talking to the real Temporal dev server."""
    async for served in _serve(settings, sessions, dev_client):
        response = await sign_in(served.http)
        assert response.status_code == 303, response.text
        yield served
