"""Dependencies shared by routes: settings, database sessions, the Temporal client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.domain.throttle import SignInThrottle
from core.runtime.settings import Settings
from core.runtime.workflow_config import WorkflowStart
from core.store.apikeys import KeyCache
from core.store.datakeys import DataKeys


@dataclass
class AppState:
    """Created once by the lifespan; routes reach it through the dependencies below."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client
    data_keys: DataKeys | None = None
    keys: KeyCache = field(default_factory=KeyCache)
    sign_ins: SignInThrottle = field(default_factory=SignInThrottle)
    # outgoing HTTP (SNS certificates and subscription confirmations); the lifespan owns it
    http: httpx.AsyncClient | None = None
    sns_certificates: dict[str, bytes] = field(default_factory=dict)
    start: WorkflowStart = field(init=False)

    def __post_init__(self) -> None:
        self.start = WorkflowStart.from_settings(self.settings)


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a
# thread pool, a hop per dependency per request that cost ingest a third of its rate.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.rekindle
    return state


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_temporal(state: Annotated[AppState, Depends(get_state)]) -> Client:
    return state.temporal


async def get_session(state: Annotated[AppState, Depends(get_state)]) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
