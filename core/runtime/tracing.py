"""OpenTelemetry tracing, off unless ``REKINDLE_TRACING__OTLP_ENDPOINT`` is set.

One order can be followed end to end: the API's server span (``api/tracing.py``)
is the parent of the Temporal client's signal-with-start span, whose context
travels in the workflow's headers to the workflow and activity spans
(``temporalio.contrib.opentelemetry.TracingInterceptor``, registered on the
client by ``core.runtime.temporal.connect`` and so inherited by workers).

Span attributes carry ids (workflow id, activity type), never payloads; trace
context headers are not encrypted (they hold only trace and span ids).
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.runtime.settings import TracingSettings

TRACER_NAME = "rekindle"


# One provider per process and endpoint (OpenTelemetry providers are process-wide by nature).
_providers: dict[tuple[str, str], TracerProvider] = {}


def _provider(endpoint: str, service_name: str) -> TracerProvider:
    key = (endpoint, service_name)
    if key not in _providers:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        _providers[key] = provider
    return _providers[key]


def configured_tracer(settings: TracingSettings) -> Tracer | None:
    """The process's tracer for these settings, or ``None`` when tracing is off."""
    if not settings.otlp_endpoint:
        return None
    return _provider(settings.otlp_endpoint, settings.service_name).get_tracer(TRACER_NAME)


def temporal_interceptor(tracer: Tracer) -> TracingInterceptor:
    """Client and worker interceptor creating and propagating Temporal spans."""
    return TracingInterceptor(tracer)


def flush() -> None:
    """Export buffered spans; processes leave with ``os._exit`` (core/runtime/process.py)."""
    for provider in _providers.values():
        provider.force_flush(timeout_millis=5000)
