"""Clients over HTTP: profile upsert, filtered and paginated lists, detail with live state."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from temporalio.client import Client as TemporalClient
from temporalio.common import WorkflowIDConflictPolicy

from core.contracts.messages import CLIENT_WORKFLOW, client_workflow_id
from core.contracts.state import ClientWorkflowInput
from core.store.models import Client
from tests.helpers import eventually, order_body, unique_id, utc
from tests.integration.api_factories import add_client, add_email, add_score
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal

PROFILE = {
    "email": "anna@example.com",
    "first_name": "Anna",
    "last_name": "Berg",
    "time_zone": "Europe/Stockholm",
    "locale": "sv-SE",
    "style_notes": "Prefers merino.",
}


async def test_put_client_creates_then_is_idempotent(stack: Stack) -> None:
    cid = unique_id("p")
    first = await stack.http.put(f"/v1/clients/{cid}", json=PROFILE)
    assert first.status_code == 202, first.text
    assert first.json() == {
        "client_id": cid,
        "workflow_id": f"client-{cid}",
        "changed": True,
        "status": "accepted",
    }
    again = await stack.http.put(f"/v1/clients/{cid}", json=PROFILE)
    assert again.json()["changed"] is False
    partial = await stack.http.put(f"/v1/clients/{cid}", json={"first_name": "Annie"})
    assert partial.json()["changed"] is True
    async with stack.sessions() as session:
        row = await session.get(Client, cid)
    assert row is not None
    assert (row.email, row.first_name, row.time_zone) == ("anna@example.com", "Annie", "Europe/Stockholm")
    description = await stack.temporal.get_workflow_handle(client_workflow_id(cid)).describe()
    assert description.workflow_type == CLIENT_WORKFLOW


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"time_zone": "Mars/Olympus"}, "body.time_zone", "unknown IANA time zone"),
        ({"email": "not-an-email"}, "body.email", "pattern"),
        ({"first_name": "x" * 101}, "body.first_name", "at most 100"),
        ({"nickname": "x"}, "body.nickname", "Extra inputs"),
        ({"last_name": "\u0000\u0000t"}, "body.last_name", "NUL"),  # PostgreSQL text cannot hold it
    ],
    ids=["zone", "email", "long", "extra", "nul"],
)
async def test_put_client_bad_profile_is_422(
    stack: Stack, body: dict[str, str], field: str, reason: str
) -> None:
    cid = unique_id("bad")
    response = await stack.http.put(f"/v1/clients/{cid}", json=body)
    assert response.status_code == 422, response.text
    fields = {f["field"]: f["reason"] for f in response.json()["error"]["fields"]}
    assert reason.lower() in fields[field].lower()
    async with stack.sessions() as session:
        assert await session.get(Client, cid) is None


async def _seed(stack: Stack, prefix: str) -> list[str]:
    ids = []
    for i in range(7):
        cid = f"{prefix}-{i}"
        ids.append(cid)
        await add_client(
            stack.sessions,
            cid,
            tier="at_risk" if i % 2 else "active",
            segment="hibernating" if i < 3 else "loyal",
            score=10.0 * i,
            holdout=i == 6,
            last_order_at=utc(2026, 1, 1 + i),
        )
    return ids


async def test_list_clients_filters(stack: Stack) -> None:
    await _seed(stack, unique_id("f"))

    async def ids(**params: str | float) -> list[str]:
        response = await stack.http.get("/v1/clients", params=params)
        assert response.status_code == 200, response.text
        return [item["client_id"][-1] for item in response.json()["items"]]

    assert await ids(tier="at_risk") == ["1", "3", "5"]
    assert await ids(segment="hibernating") == ["0", "1", "2"]
    assert await ids(score_min=20, score_max=40) == ["2", "3", "4"]
    assert await ids(holdout="true") == ["6"]
    assert await ids(last_order_before="2026-01-03T00:00:00Z") == ["0", "1"]
    assert await ids(last_order_after="2026-01-06T00:00:00+00:00") == ["5", "6"]
    assert await ids(tier="active", score_min=30) == ["4", "6"]


async def test_list_clients_cursor_walks_every_client_once(stack: Stack) -> None:
    seeded = await _seed(stack, unique_id("w"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int | float | bool] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await stack.http.get("/v1/clients", params=params)).json()
        seen += [item["client_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seeded)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage!"}, "query.cursor"),
        ({"cursor": "WzFd"}, "query.cursor"),  # [1]: decodes, but is not ours
        ({"last_order_before": "2026-01-01T00:00:00"}, "query.last_order_before"),
        ({"tier": "gold"}, "query.tier"),
        ({"limit": 0}, "query.limit"),
    ],
    ids=["cursor", "cursor-type", "naive", "tier", "limit"],
)
async def test_list_clients_bad_query_is_422(
    stack: Stack, params: dict[str, str | int | float | bool], field: str
) -> None:
    response = await stack.http.get("/v1/clients", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field


async def test_client_detail_has_history_emails_and_live_state(stack: Stack) -> None:
    cid = unique_id("d")
    assert (await stack.http.put(f"/v1/clients/{cid}", json=PROFILE)).status_code == 202
    assert (await stack.http.post(f"/v1/clients/{cid}/orders", json=order_body("o-1"))).status_code == 202
    await add_score(stack.sessions, cid, utc(2026, 1, 1), 80, "active")
    await add_score(stack.sessions, cid, utc(2026, 3, 1), 30, "at_risk")

    async def recorded() -> dict[str, str | int | float | bool] | None:
        body: dict[str, str | int | float | bool] = (await stack.http.get(f"/v1/clients/{cid}")).json()
        live = body["live_state"]
        done = isinstance(live, dict) and live.get("order_count") == 1 and body["order_count"] == 1
        return body if done else None

    await eventually(recorded)
    # Seeded once the workflow's first run has loaded the client's facts (it would resume a
    # draft it found in flight, and the order would cancel it).
    await add_email(stack.sessions, unique_id("e"), cid)
    body = await eventually(recorded)
    assert body["profile"]["first_name"] == "Anna"
    # Newest first; the workflow's own rescore (at "now") comes before the two seeded here.
    seeded = [s["score"] for s in body["scores"] if s["scored_at"] <= "2026-03-01T00:00:00Z"]
    assert seeded == [30, 80]
    assert any(e["status"] == "pending_approval" for e in body["emails"])
    assert body["live_state"]["client_id"] == cid
    assert body["live_state_reason"] is None
    assert body["order_count"] == 1


async def test_client_detail_without_workflow_has_null_live_state(stack: Stack) -> None:
    cid = unique_id("db-only")
    await add_client(stack.sessions, cid)
    body = (await stack.http.get(f"/v1/clients/{cid}")).json()
    assert body["live_state"] is None
    assert body["live_state_reason"] == "no_workflow"


async def test_client_detail_with_no_worker_answers_in_bounded_time(stack: Stack) -> None:
    cid = unique_id("idle")
    await add_client(stack.sessions, cid)
    temporal: TemporalClient = stack.temporal
    await temporal.start_workflow(
        CLIENT_WORKFLOW,
        ClientWorkflowInput(client_id=cid),
        id=client_workflow_id(cid),
        task_queue=unique_id("nobody-polls"),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        execution_timeout=timedelta(minutes=5),
    )
    response = await stack.http.get(f"/v1/clients/{cid}")
    assert response.status_code == 200
    assert response.json()["live_state"] is None
    assert response.json()["live_state_reason"] in {"workflow_unavailable", "query_failed"}


async def test_clients_batch_stores_profiles_and_reports_per_item(stack: Stack) -> None:
    """``POST /v1/clients:batch``: each item as ``PUT /v1/clients/{id}`` would take it, a bad
    item reported without sinking the batch, a repeat changing nothing."""
    a, b = unique_id("ba"), unique_id("bb")
    body = {
        "clients": [
            {"client_id": a, **PROFILE},
            {"client_id": b, "first_name": "Bo"},
            {"client_id": unique_id("bc"), "time_zone": "Mars/Olympus"},
            {"first_name": "no id"},
            {"client_id": unique_id("bd"), "last_name": "\u0000t"},
        ]
    }
    first = await stack.http.post("/v1/clients:batch", json=body)
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["accepted"], result["invalid"], result["unavailable"]) == (2, 3, 0)
    assert [(r["status"], r["changed"]) for r in result["results"]] == [
        ("accepted", True),
        ("accepted", True),
        ("invalid", None),
        ("invalid", None),
        ("invalid", None),
    ]
    assert result["results"][4]["errors"][0]["field"] == "last_name"
    assert result["results"][2]["errors"][0]["field"] == "time_zone"
    assert result["results"][3]["errors"][0]["field"] == "client_id"
    again = (await stack.http.post("/v1/clients:batch", json={"clients": body["clients"][:2]})).json()
    assert [r["changed"] for r in again["results"]] == [False, False]
    async with stack.sessions() as session:
        rows = {c: await session.get(Client, c) for c in (a, b)}
    assert [(r.time_zone, r.first_name) if r else None for r in rows.values()] == [
        ("Europe/Stockholm", "Anna"),
        (None, "Bo"),
    ]
    for cid in (a, b):  # each client's workflow heard its profile
        description = await stack.temporal.get_workflow_handle(client_workflow_id(cid)).describe()
        assert description.workflow_type == CLIENT_WORKFLOW
    too_many = await stack.http.post("/v1/clients:batch", json={"clients": [{"client_id": a}] * 1001})
    assert too_many.status_code == 422


async def test_clients_batch_with_temporal_unreachable_is_503_and_stores_nothing(
    unreachable: httpx.AsyncClient, stack: Stack
) -> None:
    cid = unique_id("bu")
    response = await unreachable.post("/v1/clients:batch", json={"clients": [{"client_id": cid, **PROFILE}]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    async with stack.sessions() as session:
        assert await session.get(Client, cid) is None


async def test_list_clients_nul_in_a_filter_is_a_422_not_a_500(stack: Stack) -> None:
    """PostgreSQL cannot compare text holding NUL: the driver's DataError is the request's
    fault (422, naming no value); SQLite simply finds nothing."""
    response = await stack.http.get("/v1/clients", params={"segment": "a\x00b"})
    if stack.settings.database.url.startswith("postgresql"):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["fields"] == [
            {"field": "request", "reason": "holds a value the database cannot store"}
        ]
    else:
        assert (response.status_code, response.json()["items"]) == (200, [])
