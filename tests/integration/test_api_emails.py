"""Emails over HTTP: the queue by status, detail, approve/reject forwarded as Updates to the
real client workflow (its validators decide 409 and the field-level 422)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.contracts.messages import CLIENT_WORKFLOW, client_workflow_id
from core.runtime import client_workflow
from core.store.db import utcnow
from tests.helpers import eventually, order_body, unique_id, utc
from tests.integration.api_factories import add_client, add_email
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


async def _pending(stack: Stack) -> tuple[str, str]:
    """A client silent for 100 days whose workflow holds a draft awaiting a person's decision."""
    cid = unique_id("c")
    profile = {"email": "anna@example.com", "first_name": "Anna"}
    assert (await stack.http.put(f"/v1/clients/{cid}", json=profile)).status_code == 202
    for n, days in enumerate((160, 130, 100)):
        placed_at = (utcnow() - timedelta(days=days)).isoformat()
        response = await stack.http.post(
            f"/v1/clients/{cid}/orders", json=order_body(f"{cid}-o{n}", placed_at)
        )
        assert response.status_code == 202, response.text

    async def drafted() -> str | None:
        live = (await stack.http.get(f"/v1/clients/{cid}")).json()["live_state"]
        pending = live and live["order_count"] == 3 and live["pending_email"]
        return pending["email_id"] if pending and pending["status"] == "pending_approval" else None

    email_id: str = await eventually(drafted, timeout=60, interval=0.2)
    return cid, email_id


async def test_list_emails_by_status_paginates(stack: Stack) -> None:
    cid = unique_id("c")
    await add_client(stack.sessions, cid)
    for i in range(5):
        status = "pending_approval" if i != 2 else "sent"
        await add_email(stack.sessions, f"{cid}-e{i}", cid, status, created_at=utc(2026, 1, 1, i))
    seen, cursor = [], None
    while True:
        params: dict[str, str | int | float | bool] = {
            "status": "pending_approval",
            "limit": 2,
            "client_id": cid,
        }
        if cursor:
            params["cursor"] = cursor
        response = await stack.http.get("/v1/emails", params=params)
        assert response.status_code == 200, response.text
        seen += [e["email_id"] for e in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{cid}-e{i}" for i in (0, 1, 3, 4)]
    bad = await stack.http.get("/v1/emails", params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "query.status"


async def test_email_detail_has_draft_verdicts_and_timeline(stack: Stack) -> None:
    cid, eid = unique_id("c"), unique_id("e")
    await add_client(stack.sessions, cid)
    await add_email(stack.sessions, eid, cid, "sent", message_id="<m@x>", sent_at=utc(2026, 2, 1))
    body = (await stack.http.get(f"/v1/emails/{eid}")).json()
    assert body["draft"]["subject"] == "We miss you"
    assert body["guardrails"]["verdicts"][0]["name"] == "length"
    assert [e["kind"] for e in body["events"]] == ["drafted", "viewed"]
    assert body["delivery"]["message_id"] == "<m@x>"
    missing = await stack.http.get("/v1/emails/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_approve_forwards_the_update_and_repeats_are_409(stack: Stack) -> None:
    _cid, eid = await _pending(stack)
    response = await stack.http.post(f"/v1/emails/{eid}/approve", json={"approved_by": "maria"})
    assert response.status_code == 200, response.text
    assert (response.json()["email_id"], response.json()["status"]) == (eid, "approved")
    # The identical request again is the same Update (deduplicated): same answer.
    same = await stack.http.post(f"/v1/emails/{eid}/approve", json={"approved_by": "maria"})
    assert same.status_code == 200
    other = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": "too late"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "not_pending"


async def test_approve_with_edits_failing_guardrails_is_422(stack: Stack) -> None:
    _cid, eid = await _pending(stack)
    response = await stack.http.post(
        f"/v1/emails/{eid}/approve",
        json={"body_text": "Take 50% off today, Anna: https://evil.example/deal"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "edit_rejected"
    # One field error per failing guardrail, from the verdicts the workflow's validator sent.
    reasons = [f["reason"] for f in error["fields"]]
    assert {r.split(":")[0] for r in reasons} == {"no_unapproved_offer", "only_our_links"}, reasons
    assert {f["field"] for f in error["fields"]} == {"body"}
    # Rejected by the validator: nothing happened, the draft is still pending.
    ok = await stack.http.post(f"/v1/emails/{eid}/approve", json={"subject": "Anna, new arrivals"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved"


async def test_reject_forwards_the_reason(stack: Stack) -> None:
    cid, eid = await _pending(stack)
    empty = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": ""})
    assert empty.status_code == 422
    response = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": "tone"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"

    async def rejected_in_the_database() -> dict[str, object] | None:
        detail = (await stack.http.get(f"/v1/emails/{eid}")).json()
        return detail if detail["status"] == "rejected" else None

    detail = await eventually(rejected_in_the_database, timeout=30)
    assert (detail["client_id"], detail["rejected_reason"]) == (cid, "tone")


async def test_decision_on_unknown_or_stale_email(stack: Stack) -> None:
    assert (await stack.http.post("/v1/emails/nope/approve", json={})).status_code == 404
    cid, eid = unique_id("c"), unique_id("e")
    await add_client(stack.sessions, cid)
    await add_email(stack.sessions, eid, cid)  # stored, but no workflow is waiting on it
    response = await stack.http.post(f"/v1/emails/{eid}/approve", json={})
    assert response.status_code == 409


async def test_decision_with_no_worker_is_503_in_bounded_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_workflow, "UPDATE_TIMEOUT", timedelta(seconds=1))
    cid, eid = unique_id("c"), unique_id("e")
    await add_client(stack.sessions, cid)
    await add_email(stack.sessions, eid, cid)
    await stack.temporal.start_workflow(  # its queue has no worker: the Update is never answered
        CLIENT_WORKFLOW,
        {"client_id": cid},
        id=client_workflow_id(cid),
        task_queue=unique_id("nobody-polls"),
        execution_timeout=timedelta(minutes=5),
    )
    started = asyncio.get_running_loop().time()
    response = await stack.http.post(f"/v1/emails/{eid}/approve", json={})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert asyncio.get_running_loop().time() - started < 8
