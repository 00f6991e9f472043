"""``rekindle api`` / ``python -m api``: serve the API with uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
        loop="none",
    )
    await uvicorn.Server(config).serve()


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it is, with uvicorn[standard]): the API's I/O costs less CPU."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return None
    return uvloop.new_event_loop
