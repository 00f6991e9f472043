"""``rekindle api`` / ``python -m api``: serve the API with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.runtime.logging import configure_logging
from core.runtime.settings import Settings
from core.runtime.startup import require_production_settings
from core.runtime.tracing import flush as flush_traces

# On SIGTERM uvicorn stops accepting, lets in-flight requests finish for this long, then closes.
GRACEFUL_SHUTDOWN_SECONDS = 30


class DrainingServer(uvicorn.Server):
    """uvicorn's graceful shutdown on SIGTERM/SIGINT, then an exit status of 0.

    uvicorn re-raises the signal once it has drained, so the process would die
    "killed by SIGTERM" after a clean shutdown; orchestrators read that as a crash.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


async def serve(settings: Settings, app: FastAPI | None = None) -> None:
    require_production_settings(settings)
    configure_logging(settings.logging)
    config = uvicorn.Config(
        app or create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        proxy_headers=True,
        loop="none",
        access_log=False,  # api/access_log.py logs requests without query strings
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = DrainingServer(config)
    try:
        await server.serve()
    finally:
        flush_traces()
    if not server.started:  # uvicorn returns quietly when startup fails; the exit status must not
        raise RuntimeError("the API did not start; the reason is logged above")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it is, with uvicorn[standard]): the API's I/O costs less CPU."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return None
    return uvloop.new_event_loop
