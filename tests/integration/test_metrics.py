"""Both Prometheus endpoints after a scenario: the API's /metrics and the worker's own port."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.runtime.settings import Settings, WorkerSettings
from core.runtime.temporal import data_converter
from core.store.apikeys import create_key
from tests.helpers import (
    eventually,
    free_port,
    order_body,
    orders_recorded,
    serve_app,
    session_codec,
    unique_id,
)
from worker.main import workers_running
from worker.metrics import sdk_runtime, serve_metrics

pytestmark = pytest.mark.temporal

APP_FAMILIES = {
    "rekindle_orders_accepted",
    "rekindle_orders_recorded",
    "rekindle_rescores",
    "rekindle_drafts",
    "rekindle_approvals",
    "rekindle_sends",
    "rekindle_suppressions",
    "rekindle_llm_request_seconds",
    "rekindle_llm_tokens",
    "rekindle_smtp_send_seconds",
    "rekindle_http_requests",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(url: str) -> tuple[set[str], Samples]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_api_and_worker_count_the_scenario(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    worker_settings = WorkerSettings(metrics_port=free_port())
    runtime, sdk_url = sdk_runtime(worker_settings)
    assert runtime is not None
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(session_codec()),
        runtime=runtime,
    )
    metrics = serve_metrics(worker_settings, sdk_url)
    assert metrics is not None
    try:
        async with (
            workers_running(client, settings, sessions),
            serve_app(create_app(settings, temporal=client)) as api,
        ):
            _, before = await _scrape(f"{api}/metrics")
            cid = unique_id("metrics")
            async with httpx.AsyncClient(base_url=api, headers=await _admin(sessions)) as http:
                for order_id in ("o-1", "o-2", "o-1"):  # the repeat is accepted, then deduplicated
                    response = await http.post(f"/v1/clients/{cid}/orders", json=order_body(order_id))
                    assert response.status_code == 202
                assert (await http.post(f"/v1/clients/{cid}/orders", json={})).status_code == 422
            await eventually(lambda: orders_recorded(client, cid, 2))

            api_families, after = await _scrape(f"{api}/metrics")
            worker_families, on_worker = await _scrape(metrics.url)
    finally:
        metrics.stop()

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("rekindle_orders_accepted_total") == 3
    assert delta("rekindle_orders_recorded_total", result="inserted") == 2
    assert delta("rekindle_orders_recorded_total", result="duplicate") == 0
    route = "/v1/clients/{client_id}/orders"
    assert delta("rekindle_http_requests_total", method="POST", route=route, status="202") == 3
    assert delta("rekindle_http_requests_total", method="POST", route=route, status="422") == 1
    assert api_families >= APP_FAMILIES
    # The worker's port: the same app counters plus the Temporal SDK's own metrics.
    assert worker_families >= APP_FAMILIES
    assert _value(on_worker, "rekindle_orders_recorded_total", result="inserted") == _value(
        after, "rekindle_orders_recorded_total", result="inserted"
    )
    sdk = {name for name in worker_families if name.startswith("temporal_")}
    assert {"temporal_request", "temporal_activity_execution_latency", "temporal_worker_start"} <= sdk, (
        sorted(sdk)
    )
    assert not {name for name in api_families if name.startswith("temporal_")}


async def _admin(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Headers with a fresh admin API key."""
    key = await create_key(sessions, "test", ("admin",))
    return {"authorization": f"Bearer {key.token}"}
