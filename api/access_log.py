"""Access log and HTTP metrics: method, route template, status, duration. Nothing else.

No bodies, no query strings (they can carry tokens), no raw paths (client ids
are in them): the route template (``/v1/clients/{client_id}/orders``) is what is
logged and what labels the metrics.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.runtime.logging import get_logger
from core.runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("rekindle.access")
UNMATCHED = "<unmatched>"


class AccessLog:
    """Outermost middleware: one log line and one metric sample per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            log.info(
                "request", method=method, route=route, status=status, duration_ms=round(elapsed * 1000, 1)
            )
