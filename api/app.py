"""The FastAPI application: built by ``create_app`` with its settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import codec, errors, ui
from api.access_log import AccessLog
from api.deps import AppState
from api.middleware import BodySizeLimit
from api.routes import clients, email_import, emails, health, orders, unsubscribe
from api.tracing import instrument_app
from core.db import create_engine, session_factory
from core.settings import Settings
from core.temporal import connect


def create_app(settings: Settings, temporal: Client | None = None) -> FastAPI:
    """The app; the lifespan opens the database engine and the Temporal client once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database)
        client = temporal or await connect(settings, lazy=True)
        app.state.rekindle = AppState(settings, engine, session_factory(engine), client)
        try:
            yield
        finally:
            await engine.dispose()

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
    for module in (health, orders, clients, emails, email_import, unsubscribe, codec):
        app.include_router(module.router)
    instrument_app(app, settings)
    app.include_router(ui.router)
    return app
