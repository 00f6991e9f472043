"""The API and the worker wired as in production, against the real dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.runtime.settings import Settings
from core.runtime.temporal import connect, data_converter
from core.store.apikeys import Scope, create_key
from core.store.datakeys import DataKeys
from tests.helpers import free_port, serve_app, session_codec
from worker.main import workers_running


@dataclass
class Stack:
    """``http`` carries an admin API key; ``anon`` carries none; ``key()`` makes more."""

    http: httpx.AsyncClient
    anon: httpx.AsyncClient
    temporal: Client
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    base_url: str
    api_key: str
    data_keys: DataKeys | None = None

    async def key(self, *scopes: Scope, name: str = "test") -> str:
        return (await create_key(self.sessions, name, scopes)).token

    def client(self, token: str) -> httpx.AsyncClient:
        """A client with ``token`` as its bearer key (close it, or use ``async with``)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, headers=auth(token))


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def api_key(sessions: async_sessionmaker[AsyncSession]) -> str:
    """An admin API key stored in this test's database."""
    return (await create_key(sessions, "test admin", ("admin",))).token


@pytest.fixture
async def unreachable(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a Temporal client pointed at a closed port (admin key)."""
    dead = settings.temporal.model_copy(update={"address": f"127.0.0.1:{free_port()}"})
    temporal = await connect(dead, lazy=True)
    async with (
        serve_app(create_app(settings, temporal=temporal)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30, headers=auth(api_key)) as http,
    ):
        yield http


async def _stack(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    api_key: str,
    data_keys: DataKeys | None = None,
) -> AsyncIterator[Stack]:
    app = create_app(settings, temporal=client, data_keys=data_keys)
    async with (
        workers_running(client, settings, sessions),
        serve_app(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30, headers=auth(api_key)) as http,
        httpx.AsyncClient(base_url=base_url, timeout=30) as anon,
    ):
        yield Stack(http, anon, client, settings, sessions, base_url, api_key, data_keys)


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    api_key: str,
) -> AsyncIterator[Stack]:
    """Worker + API (served over HTTP on loopback) on this test's database and queues."""
    async for served in _stack(dev_env.client, settings, sessions, api_key):
        yield served


@pytest.fixture
async def keyed_stack(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    api_key: str,
) -> AsyncIterator[Stack]:
    """The same with per-client data keys in the Temporal client, worker and codec server, as
    production wires them (``stack`` encrypts with the master key only)."""
    keys = DataKeys(sessions, session_codec().master)
    codec = session_codec().with_data_keys(keys)
    service, namespace = dev_env.client.service_client, dev_env.client.namespace
    client = Client(service, namespace=namespace, data_converter=data_converter(codec))
    async for served in _stack(client, settings, sessions, api_key, keys):
        yield served
