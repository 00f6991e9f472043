"""The FastAPI application: built by ``create_app`` with its settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import codec, errors, ui
from api.access_log import AccessLog
from api.deps import AppState
from api.middleware import BodySizeLimit
from api.routes import (
    actions,
    audit,
    clients,
    email_import,
    emails,
    feedback,
    health,
    inbound,
    orders,
    policy,
    privacy,
    unsubscribe,
    webhooks,
)
from api.tracing import instrument_app
from core.runtime.codec import CodecNotConfigured
from core.runtime.settings import Settings
from core.runtime.temporal import connect
from core.store.datakeys import DataKeys, data_keys_for
from core.store.db import create_engine, session_factory

OUTGOING_HTTP_TIMEOUT_SECONDS = 10.0


def create_app(
    settings: Settings,
    temporal: Client | None = None,
    http: httpx.AsyncClient | None = None,
    data_keys: DataKeys | None = None,
) -> FastAPI:
    """The app; the lifespan opens the database engine, the Temporal client and an HTTP client once
    (``http`` replaces the latter, e.g. with a test transport).

    A ``temporal`` client passed in brings its own codec; pass the ``data_keys`` it uses
    too (the dev stack does), so an erasure evicts the one cache both read.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database)
        sessions = session_factory(engine)
        keys = data_keys or _data_keys(settings, sessions)
        client = temporal or await connect(settings, lazy=True, data_keys=keys)
        outgoing = http or httpx.AsyncClient(timeout=OUTGOING_HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        app.state.rekindle = AppState(settings, engine, sessions, client, http=outgoing, data_keys=keys)
        try:
            yield
        finally:
            await engine.dispose()
            if http is None:
                await outgoing.aclose()

    app = FastAPI(
        title="Rekindle",
        version="1.0.0",
        summary="Client re-engagement: ingest orders, review drafts, unsubscribe.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(codec.CodecCors, origins=settings.api.cors_origins)
    app.add_middleware(AccessLog)  # added last: outermost, sees every response
    for module in (
        health,
        orders,
        actions,
        clients,
        privacy,
        emails,
        email_import,
        policy,
        unsubscribe,
        feedback,
        inbound,
        webhooks,
        audit,
        codec,
    ):
        app.include_router(module.router)
    instrument_app(app, settings)
    app.include_router(ui.router)
    return app


def _data_keys(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> DataKeys | None:
    try:
        return data_keys_for(settings, sessions)
    except CodecNotConfigured:
        return None  # the codec routes answer 503 and say why; connect() refuses on its own
