"""The walking skeleton: HTTP → signal-with-start → workflow → activity → database → HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from core.contracts.messages import QUERY_STATE, client_workflow_id
from core.contracts.state import ClientStateView
from tests.helpers import eventually, order_body, unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


async def _order_count(stack: Stack, client_id: str) -> int | None:
    response = await stack.http.get(f"/v1/clients/{client_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    count: int = response.json()["order_count"]
    return count


async def test_ingest_order_is_recorded_once(stack: Stack) -> None:
    cid = unique_id("c")
    response = await stack.http.post(f"/v1/clients/{cid}/orders", json=order_body("o-123"))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "client_id": cid,
        "order_id": "o-123",
        "workflow_id": f"client-{cid}",
        "status": "accepted",
    }
    await eventually(lambda: _is(stack, cid, 1))

    again = await stack.http.post(f"/v1/clients/{cid}/orders", json=order_body("o-123"))
    assert again.status_code == 202
    later = await stack.http.post(
        f"/v1/clients/{cid}/orders", json=order_body("o-124", "2026-02-07T09:30:00+01:00", "20.5")
    )
    assert later.status_code == 202
    await eventually(lambda: _is(stack, cid, 2))

    handle = stack.temporal.get_workflow_handle(client_workflow_id(cid))
    state = await handle.query(QUERY_STATE, result_type=ClientStateView)
    assert state.order_count == 2
    assert state.pending_orders == 0
    detail = (await stack.http.get(f"/v1/clients/{cid}")).json()
    assert detail["order_count"] == 2
    assert detail["last_order_at"] == "2026-02-07T08:30:00Z"
    assert detail["total_spend"] == "99.50"


async def _is(stack: Stack, client_id: str, count: int) -> bool:
    return await _order_count(stack, client_id) == count


async def test_get_unknown_client_is_404(stack: Stack) -> None:
    response = await stack.http.get("/v1/clients/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


BAD_ORDERS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "missing",
        {"placed_at": "2026-01-05T10:00:00Z", "amount": "1", "currency": "USD"},
        "body.order_id",
        "Field required",
    ),
    ("negative", order_body("o-1", amount="-5"), "body.amount", "greater than or equal to 0"),
    ("date", {**order_body("o-1"), "placed_at": "2026-13-45"}, "body.placed_at", "datetime"),
    ("naive", {**order_body("o-1"), "placed_at": "2026-01-05T10:00:00"}, "body.placed_at", "timezone"),
    ("currency", {**order_body("o-1"), "currency": "XYZ"}, "body.currency", "unknown ISO 4217"),
    ("decimals", {**order_body("o-1"), "amount": "1.005"}, "body.amount", "at most 2 decimal places"),
    ("nan", {**order_body("o-1"), "amount": "NaN"}, "body.amount", ""),
]


@pytest.mark.parametrize(("case", "body", "field", "reason"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_ingest_bad_order_is_422_and_reaches_nothing(
    stack: Stack, case: str, body: dict[str, Any], field: str, reason: str
) -> None:
    client_id = unique_id(f"bad-{case}")
    response = await stack.http.post(f"/v1/clients/{client_id}/orders", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {f["field"]: f["reason"] for f in error["fields"]}
    assert field in fields, fields
    assert reason.lower() in fields[field].lower()
    await _assert_no_workflow(stack, client_id)


async def test_ingest_oversized_body_is_422(stack: Stack) -> None:
    body = order_body("o-big")
    body["items"] = [{"sku": "x" * 100, "category": "y" * 100}] * 10_000
    cid = unique_id("big")
    response = await stack.http.post(f"/v1/clients/{cid}/orders", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "body"
    assert "exceeds" in error["fields"][0]["reason"]
    await _assert_no_workflow(stack, cid)


async def test_ingest_bad_client_id_is_422(stack: Stack) -> None:
    response = await stack.http.post("/v1/clients/%20bad%20id/orders", json=order_body("o-1"))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "path.client_id"


async def test_ingest_malformed_json_is_422(stack: Stack) -> None:
    cid = unique_id("json")
    response = await stack.http.post(
        f"/v1/clients/{cid}/orders", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    await _assert_no_workflow(stack, cid)


async def _assert_no_workflow(stack: Stack, client_id: str) -> None:
    handle = stack.temporal.get_workflow_handle(client_workflow_id(client_id))
    with pytest.raises(RPCError) as info:
        await handle.describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND
