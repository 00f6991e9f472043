"""``rekindle api`` / ``python -m api``: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from core.logging import configure_logging
from core.settings import Settings


async def serve(settings: Settings) -> None:
    configure_logging(settings.logging)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        proxy_headers=True,
    )
    await uvicorn.Server(config).serve()
