"""The API and the worker wired as in production, against the real dev server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.helpers import serve_app
from worker import registry
from worker.main import build_workers, run_workers


@dataclass
class Stack:
    http: httpx.AsyncClient
    temporal: Client
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Stack]:
    """Worker + API (served over HTTP on loopback) on this test's database and queues."""
    client = dev_env.client
    deps = registry.Dependencies(settings=settings, sessions=sessions)
    stop = asyncio.Event()
    worker_task = asyncio.create_task(run_workers(build_workers(client, deps), stop))
    app = create_app(settings, temporal=client)
    try:
        async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            yield Stack(http=http, temporal=client, settings=settings, sessions=sessions)
    finally:
        stop.set()
        await worker_task
