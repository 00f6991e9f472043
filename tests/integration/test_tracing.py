"""One order followed from the HTTP request through the workflow signal to record_order."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.tracing import instrument_app
from core.runtime.settings import Settings, TracingSettings
from core.runtime.temporal import data_converter
from core.runtime.tracing import configured_tracer, temporal_interceptor
from core.store.apikeys import create_key
from tests.helpers import (
    eventually,
    order_body,
    orders_recorded,
    serve_app,
    session_codec,
    unique_id,
)
from worker.main import workers_running

pytestmark = pytest.mark.temporal


def _named(spans: list[ReadableSpan], prefix: str) -> ReadableSpan:
    found = [s for s in spans if s.name.startswith(prefix)]
    assert found, f"no span {prefix!r} in {sorted(s.name for s in spans)}"
    return found[0]


async def test_tracing_one_trace_from_http_request_to_activity(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("rekindle-test")
    client = Client(
        dev_env.client.service_client,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(session_codec()),
        interceptors=[temporal_interceptor(tracer)],
    )
    app = create_app(settings, temporal=client)
    instrument_app(app, settings, tracer=tracer)
    cid = unique_id("trace")
    async with (
        workers_running(client, settings, sessions),
        serve_app(app) as api,
        httpx.AsyncClient(base_url=api, headers=await _admin(sessions)) as http,
    ):
        response = await http.post(f"/v1/clients/{cid}/orders", json=order_body("o-1"))
        assert response.status_code == 202
        await eventually(lambda: orders_recorded(client, cid, 1))
        await eventually(lambda: any(s.name.startswith("RunActivity") for s in exporter.get_finished_spans()))

    spans = list(exporter.get_finished_spans())
    http_span = _named(spans, "HTTP POST /v1/clients/{client_id}/orders")
    chain = [
        http_span,
        _named(spans, "SignalWithStartWorkflow:ClientEngagementWorkflow"),
        _named(spans, "HandleSignal:order_placed"),
        _named(spans, "StartActivity:record_order"),
        _named(spans, "RunActivity:record_order"),
    ]
    trace_ids = {span.context.trace_id for span in chain if span.context is not None}
    assert len(trace_ids) == 1
    assert http_span.attributes is not None
    assert http_span.attributes["http.route"] == "/v1/clients/{client_id}/orders"
    # Spans name ids and types, never payloads.
    for span in spans:
        assert "o-1" not in str(span.attributes)


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    assert configured_tracer(TracingSettings()) is None
    assert configured_tracer(TracingSettings(otlp_endpoint="http://127.0.0.1:4318/v1/traces")) is not None


async def _admin(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Headers with a fresh admin API key."""
    key = await create_key(sessions, "test", ("admin",))
    return {"authorization": f"Bearer {key.token}"}
