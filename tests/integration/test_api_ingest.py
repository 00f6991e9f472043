"""Batch ingest, Temporal unreachable (503, nothing half-done), and the metrics it leaves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.domain.tokens import make_unsubscribe_token
from core.runtime.settings import Settings
from core.store.models import Client, Order, Suppression
from tests.helpers import eventually, order_body, unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


async def _orders(sessions: async_sessionmaker[AsyncSession], client_ids: list[str]) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Order).where(Order.client_id.in_(client_ids))
        return int((await session.execute(query)).scalar_one())


async def test_batch_reports_per_item_and_a_bad_item_does_not_sink_it(stack: Stack) -> None:
    a, b = unique_id("a"), unique_id("b")
    items: list[Any] = [
        {"client_id": a, **order_body("o-1")},
        {"client_id": a, **order_body("o-2", "2026-02-01T00:00:00Z")},
        {"client_id": b, **order_body("o-3")},
        {"client_id": b, **order_body("o-4"), "currency": "XYZ"},
        {"client_id": "has space", **order_body("o-5")},
        42,
        {"client_id": a, **order_body("o-1")},  # a repeat: accepted, recorded once
    ]
    response = await stack.http.post("/v1/orders:batch", json={"orders": items})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["invalid"], body["unavailable"]) == (4, 3, 0)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted"] * 3 + ["invalid"] * 3 + ["accepted"]
    assert body["results"][3]["errors"] == [
        {"field": "currency", "reason": "unknown ISO 4217 currency code 'XYZ'"}
    ]
    assert body["results"][4]["errors"][0]["field"] == "client_id"
    assert body["results"][5]["index"] == 5
    await eventually(lambda: _is(stack.sessions, [a, b], 3), timeout=20)


async def _is(sessions: async_sessionmaker[AsyncSession], ids: list[str], count: int) -> bool:
    return await _orders(sessions, ids) == count


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"orders": []}, "body.orders"),
        ({"orders": [order_body("x")] * 1001}, "body.orders"),
        ({}, "body.orders"),
    ],
    ids=["empty", "too-many", "missing"],
)
async def test_batch_bad_envelope_is_422(stack: Stack, body: dict[str, Any], field: str) -> None:
    response = await stack.http.post("/v1/orders:batch", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field


async def test_temporal_unreachable_is_503_and_nothing_half_done(
    unreachable: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    cid = unique_id("down")
    single = await unreachable.post(f"/v1/clients/{cid}/orders", json=order_body("o-1"))
    assert single.status_code == 503
    assert single.headers["retry-after"] == "5"
    assert single.json()["error"]["code"] == "temporal_unavailable"

    batch = await unreachable.post(
        "/v1/orders:batch", json={"orders": [{"client_id": cid, **order_body("o")}]}
    )
    assert batch.status_code == 503
    assert batch.headers["retry-after"] == "5"

    profile = await unreachable.put(f"/v1/clients/{cid}", json={"first_name": "Anna"})
    assert profile.status_code == 503
    async with sessions() as session:
        assert await session.get(Client, cid) is None  # the profile was not half-stored

    ready = await unreachable.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"

    # Opting out is recorded even now (the sender checks it); the page asks for a retry.
    token = make_unsubscribe_token(cid, settings.security.unsubscribe_secret.get_secret_value())
    page = await unreachable.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
    async with sessions() as session:
        query = select(func.count()).select_from(Suppression).where(Suppression.client_id == cid)
        assert (await session.execute(query)).scalar_one() == 1

    detail = await unreachable.get(f"/v1/clients/{cid}")
    assert detail.status_code == 200
    assert detail.json()["live_state"] is None
    assert detail.json()["live_state_reason"] == "temporal_unavailable"


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_metrics_count_requests_by_route_and_orders(stack: Stack) -> None:
    cid = unique_id("m")
    before = (await stack.anon.get("/metrics")).text
    for order_id in ("o-1", "o-2"):
        assert (
            await stack.http.post(f"/v1/clients/{cid}/orders", json=order_body(order_id))
        ).status_code == 202
    await stack.http.get("/no/such/route")
    text = (await stack.anon.get("/metrics")).text
    route = "/v1/clients/{client_id}/orders"

    def delta(name: str, **labels: str) -> float:
        return _sample(text, name, **labels) - _sample(before, name, **labels)

    assert delta("rekindle_http_requests_total", method="POST", route=route, status="202") == 2
    assert delta("rekindle_orders_accepted_total") == 2
    assert delta("rekindle_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert "rekindle_http_request_seconds_bucket" in text
    assert cid not in text


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"coupon": "WINTER"}, "body.coupon"),
        ({"items": [{"sku": "SKU-1", "colour": "teal"}]}, "body.items.0.colour"),
        ({"items": [{"sku": "SKU-1", "kept": 0}]}, "body.items.0.kept"),  # no coercion to a bool
        ({"items": [{"sku": "SKU\u00001"}]}, "body.items.0.sku"),  # PostgreSQL text cannot hold NUL
        ({"order_id": "o\u0000"}, "body.order_id"),
    ],
    ids=["order", "item", "kept-not-a-bool", "nul-sku", "nul-id"],
)
async def test_order_unknown_field_is_422_though_the_signal_tolerates_it(
    unreachable: httpx.AsyncClient, extra: dict[str, Any], field: str
) -> None:
    response = await unreachable.post(
        f"/v1/clients/{unique_id('strict')}/orders", json={**order_body("o-1"), **extra}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
    batch = await unreachable.post(
        "/v1/orders:batch", json={"orders": [{"client_id": "c-1", **order_body("o-2"), **extra}]}
    )
    assert batch.json()["results"][0]["status"] == "invalid"
