"""The worker's Prometheus endpoint: app metrics and the Temporal SDK's metrics on one port.

The SDK (its Rust core) can only export Prometheus on an address of its own, so
it binds a private loopback port (``REKINDLE_WORKER__SDK_METRICS_PORT``, a free
one when 0) and the worker's public port (``REKINDLE_WORKER__METRICS_PORT``,
default 9464) serves the app registry plus whatever the SDK reports there,
fetched at scrape time. One scrape target per worker process.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.logging import get_logger
from core.settings import WorkerSettings

log = get_logger(__name__)
SDK_SCRAPE_TIMEOUT_SECONDS = 2.0


class _Merged(Collector):
    """The app registry followed by the SDK's metrics, re-read on every scrape."""

    def __init__(self, sdk_url: str | None) -> None:
        self.sdk_url = sdk_url

    def describe(self) -> Iterable[Metric]:
        return []  # names are only known at scrape time

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        if self.sdk_url is None:
            return
        try:
            with urllib.request.urlopen(self.sdk_url, timeout=SDK_SCRAPE_TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback URL we built
                text = response.read().decode()
        except OSError as exc:  # the app metrics are still worth serving
            log.warning("sdk metrics unavailable", error_type=type(exc).__name__)
            return
        yield from text_string_to_metric_families(text)


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: Thread
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def sdk_runtime(settings: WorkerSettings) -> tuple[Runtime | None, str | None]:
    """A Temporal runtime exporting SDK metrics on a private loopback port (before any client)."""
    if settings.metrics_port == 0:
        return None, None
    port = settings.sdk_metrics_port or _free_port("127.0.0.1")
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    return runtime, f"http://127.0.0.1:{port}/metrics"


def serve_metrics(settings: WorkerSettings, sdk_url: str | None) -> MetricsServer | None:
    """Serve the merged metrics on the worker's port (in a thread); ``None`` when port is 0."""
    if settings.metrics_port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(sdk_url))
    server, thread = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    port = server.server_address[1]
    return MetricsServer(server, thread, f"http://{settings.metrics_host}:{port}/metrics")
