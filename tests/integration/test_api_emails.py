"""Emails over HTTP: the queue by status, detail, approve/reject forwarded as Updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.worker import UnsandboxedWorkflowRunner

from api import temporal_calls
from core.contracts import CLIENT_WORKFLOW, client_workflow_id
from tests.helpers import new_worker, unique_id, utc
from tests.integration.api_factories import add_client, add_email
from tests.integration.approval_stub import FORBIDDEN_PHRASE, ApprovalStub, StubInput
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


@pytest.fixture
async def stub_queue(stack: Stack) -> AsyncIterator[str]:
    """A worker running the approval stub; yields its task queue."""
    worker = new_worker(stack.temporal, workflows=[ApprovalStub], workflow_runner=UnsandboxedWorkflowRunner())
    async with worker:
        yield worker.task_queue


async def _pending(stack: Stack, task_queue: str) -> tuple[str, str]:
    """A client whose (stub) workflow awaits a decision on a stored draft."""
    cid, eid = unique_id("c"), unique_id("e")
    await add_client(stack.sessions, cid)
    await add_email(stack.sessions, eid, cid)
    await stack.temporal.start_workflow(
        CLIENT_WORKFLOW,
        StubInput(client_id=cid, pending_email_id=eid),
        id=client_workflow_id(cid),
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=5),
    )
    return cid, eid


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


async def test_approve_forwards_the_update_and_repeats_are_409(stack: Stack, stub_queue: str) -> None:
    _cid, eid = await _pending(stack, stub_queue)
    response = await stack.http.post(f"/v1/emails/{eid}/approve", json={"approved_by": "maria"})
    assert response.status_code == 200, response.text
    assert response.json() == {"email_id": eid, "status": "approved", "scheduled_for": None}
    # The identical request again is the same Update (deduplicated): same answer.
    same = await stack.http.post(f"/v1/emails/{eid}/approve", json={"approved_by": "maria"})
    assert same.status_code == 200
    other = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": "too late"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "not_pending"


async def test_approve_with_edits_failing_guardrails_is_422(stack: Stack, stub_queue: str) -> None:
    _cid, eid = await _pending(stack, stub_queue)
    response = await stack.http.post(
        f"/v1/emails/{eid}/approve", json={"body_text": f"Take {FORBIDDEN_PHRASE} today, Anna."}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "edit_rejected"
    assert "no_unapproved_offer" in error["fields"][0]["reason"]
    # Rejected by the validator: nothing happened, the draft is still pending.
    ok = await stack.http.post(f"/v1/emails/{eid}/approve", json={"body_text": "Hello again, Anna."})
    assert ok.status_code == 200


async def test_reject_forwards_the_reason(stack: Stack, stub_queue: str) -> None:
    _cid, eid = await _pending(stack, stub_queue)
    empty = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": ""})
    assert empty.status_code == 422
    response = await stack.http.post(f"/v1/emails/{eid}/reject", json={"reason": "tone"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


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
    monkeypatch.setattr(temporal_calls, "UPDATE_TIMEOUT", timedelta(seconds=1))
    _cid, eid = await _pending(stack, unique_id("nobody-polls"))
    started = asyncio.get_running_loop().time()
    response = await stack.http.post(f"/v1/emails/{eid}/approve", json={})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert asyncio.get_running_loop().time() - started < 8
