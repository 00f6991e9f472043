"""``rekindle api`` / ``python -m api``: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.logging import configure_logging
from core.settings import Settings
from core.tracing import flush as flush_traces

# On SIGTERM uvicorn stops accepting, lets in-flight requests finish for this long, then closes.
GRACEFUL_SHUTDOWN_SECONDS = 30


async def serve(settings: Settings, app: FastAPI | None = None) -> None:
    configure_logging(settings.logging)
    config = uvicorn.Config(
        app or create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        proxy_headers=True,
        access_log=False,  # api/access_log.py logs requests without query strings
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        flush_traces()
