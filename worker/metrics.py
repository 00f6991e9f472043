"""The worker's Prometheus endpoint: app metrics and the Temporal SDK's metrics on one port.

The SDK (its Rust core) exports Prometheus only on an address of its own, so
it binds a private loopback port (``REKINDLE_WORKER__SDK_METRICS_PORT``, a free
one when 0) and the worker's public port (``REKINDLE_WORKER__METRICS_PORT``,
default 9464) serves the app registry followed by the SDK's exposition,
fetched verbatim at scrape time. One scrape target per worker process.
"""

from __future__ import annotations

import socket
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.runtime.logging import get_logger
from core.runtime.settings import WorkerSettings

log = get_logger(__name__)
SDK_SCRAPE_TIMEOUT_SECONDS = 2.0


def merged_metrics(sdk_url: str | None) -> bytes:
    """The app registry, then the SDK's exposition verbatim (names as Temporal documents them)."""
    app = generate_latest(REGISTRY)
    if sdk_url is None:
        return app
    try:
        with urllib.request.urlopen(sdk_url, timeout=SDK_SCRAPE_TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback URL we built
            sdk: bytes = response.read()
    except OSError as exc:  # the app metrics are still worth serving
        log.warning("sdk metrics unavailable", error_type=type(exc).__name__)
        return app
    return app + b"\n" + sdk


def _handler(sdk_url: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/", "/metrics"):
                self.send_error(404)
                return
            body = merged_metrics(sdk_url)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes are not worth a log line each

    return Handler


@dataclass
class MetricsServer:
    server: ThreadingHTTPServer
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
    server = ThreadingHTTPServer((settings.metrics_host, settings.metrics_port), _handler(sdk_url))
    server.daemon_threads = True
    thread = Thread(target=server.serve_forever, name="worker-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread, f"http://{settings.metrics_host}:{settings.metrics_port}/metrics")
