"""A server span per HTTP request, parent of everything the request does (Temporal calls included)."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import context, propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.runtime.settings import Settings
from core.runtime.tracing import configured_tracer


class TracingMiddleware:
    """Continue the caller's trace (W3C ``traceparent``) or start one; name spans by route template."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        parent = propagate.extract(carrier)
        token = context.attach(parent)
        try:
            with self.tracer.start_as_current_span(
                f"HTTP {scope['method']}", kind=SpanKind.SERVER, record_exception=False
            ) as span:

                async def tracking_send(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        span.set_attribute("http.response.status_code", int(message["status"]))
                        if int(message["status"]) >= 500:
                            span.set_status(Status(StatusCode.ERROR))
                    await send(message)

                await self.app(scope, receive, tracking_send)
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"HTTP {scope['method']} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.request.method", scope["method"])
        finally:
            context.detach(token)


def instrument_app(app: FastAPI, settings: Settings, tracer: Tracer | None = None) -> None:
    """Trace every request when tracing is configured (or a tracer is given, in tests)."""
    tracer = tracer or configured_tracer(settings.tracing)
    if tracer is not None:
        app.add_middleware(TracingMiddleware, tracer=tracer)
