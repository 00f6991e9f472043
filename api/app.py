"""The FastAPI application: built by ``create_app`` with its settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors
from api.deps import AppState
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import BodySizeLimit
from api.routes import clients, emails, health, orders, unsubscribe
from core.db import create_engine, session_factory
from core.settings import Settings
from core.temporal import connect


def create_app(settings: Settings, temporal: Client | None = None) -> FastAPI:
    """The app; the lifespan opens the database engine and the Temporal client once."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database)
        client = temporal or await connect(settings.temporal, lazy=True)
        app.state.rekindle = AppState(settings, engine, session_factory(engine), client, metrics=metrics)
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
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for module in (health, orders, clients, emails, unsubscribe):
        app.include_router(module.router)
    return app
