"""Ops actions over HTTP against the real dev server: pause/resume/unsubscribe a client,
shown in the live state, recorded in the database, audited; webhooks signed and delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus

from core.contracts.ops import webhook_workflow_id
from core.store.ops_models import ClientPause, OutboxEvent
from tests.fakes.webhook_receiver import Receiver
from tests.helpers import eventually, serve_app, unique_id
from tests.integration.api_factories import add_client, add_email
from tests.integration.conftest import Stack
from worker.webhook_deliveries import ensure_webhook_deliveries

pytestmark = pytest.mark.temporal


async def _live(stack: Stack, cid: str) -> dict[str, Any]:
    body = (await stack.http.get(f"/v1/clients/{cid}")).json()
    return body.get("live_state") or {}


async def _client(stack: Stack) -> str:
    cid = unique_id("c")
    response = await stack.http.put(f"/v1/clients/{cid}", json={"first_name": "Anna"})
    assert response.status_code == 202, response.text
    return cid


async def _audit(stack: Stack, **params: str) -> list[dict[str, Any]]:
    response = await stack.http.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    async with serve_app(hook.app()) as base_url:
        yield hook, f"{base_url}/hook"


async def test_pause_resume_shows_in_live_state_and_is_idempotent(stack: Stack) -> None:
    cid = await _client(stack)
    first = await stack.http.post(f"/v1/clients/{cid}:pause", json={"reason": "asked by phone"})
    assert first.status_code == 200, first.text
    assert first.json() | {"paused_until": None} == {
        "client_id": cid, "action": "pause", "changed": True, "paused": True,
        "paused_until": None, "unsubscribed": False,
    }  # fmt: skip
    await eventually(lambda: _paused(stack, cid, True))
    again = await stack.http.post(f"/v1/clients/{cid}:pause", json={"reason": "asked by phone"})
    assert again.json()["changed"] is False
    resumed = await stack.http.post(f"/v1/clients/{cid}:resume")
    assert resumed.json()["changed"] is True
    assert resumed.json()["paused"] is False
    await eventually(lambda: _paused(stack, cid, False))
    assert (await stack.http.post(f"/v1/clients/{cid}:resume")).json()["changed"] is False
    actions = [e["action"] for e in await _audit(stack, target_id=cid)]
    assert actions == ["client.resume", "client.pause"]  # the repeats changed nothing
    async with stack.sessions() as session:
        hold = await session.get(ClientPause, cid)
    assert hold is not None
    assert not hold.paused
    assert hold.resumed_by == "key:test admin"


async def _paused(stack: Stack, cid: str, expected: bool) -> bool:
    return (await _live(stack, cid)).get("paused") is expected


async def test_refusals_are_409_and_audited_as_denied(stack: Stack) -> None:
    cid = await _client(stack)
    never = await stack.http.post(f"/v1/clients/{cid}:resume")
    assert never.status_code == 409
    assert never.json()["error"]["code"] == "not_paused"
    past = datetime.now(UTC) - timedelta(minutes=1)
    bad = await stack.http.post(f"/v1/clients/{cid}:pause", json={"until": past.isoformat()})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "body.until"
    gone = await stack.http.post(f"/v1/clients/{cid}:unsubscribe", json={"reason": "asked by phone"})
    assert gone.json()["changed"] is True
    assert gone.json()["unsubscribed"] is True
    await eventually(lambda: _unsubscribed(stack, cid))
    repeat = await stack.http.post(f"/v1/clients/{cid}:unsubscribe", json={"reason": "again"})
    assert repeat.json()["changed"] is False
    late = await stack.http.post(f"/v1/clients/{cid}:pause", json={})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "unsubscribed"
    denied = await _audit(stack, target_id=cid, outcome="denied")
    assert [e["action"] for e in denied] == ["client.pause", "client.resume"]
    missing = await stack.http.post(f"/v1/clients/{unique_id('nobody')}:pause", json={})
    assert missing.status_code == 404
    ingest = await stack.key("ingest")
    async with stack.client(ingest) as http:
        assert (await http.post(f"/v1/clients/{cid}:pause", json={})).status_code == 403
        assert (await http.get("/v1/audit")).status_code == 403


async def _unsubscribed(stack: Stack, cid: str) -> bool:
    return bool((await _live(stack, cid)).get("unsubscribed"))


async def test_pause_until_resumes_by_itself(stack: Stack) -> None:
    cid = await _client(stack)
    until = datetime.now(UTC) + timedelta(seconds=2)
    response = await stack.http.post(f"/v1/clients/{cid}:pause", json={"until": until.isoformat()})
    assert response.json()["paused_until"] is not None
    await eventually(lambda: _paused(stack, cid, True))
    await eventually(lambda: _paused(stack, cid, False), timeout=30)
    entries = await _audit(stack, target_id=cid, action="client.resume")
    assert entries[0]["actor"] == "system:pause-until"


async def test_registered_endpoint_receives_signed_client_paused(
    stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    created = await stack.http.post(
        "/v1/webhooks", json={"url": url, "event_types": ["client.paused", "client.resumed"]}
    )
    assert created.status_code == 201, created.text
    hook.secret = created.json()["secret"]
    assert hook.secret.startswith("whsec_")
    endpoint_id = created.json()["id"]
    assert "secret" not in (await stack.http.get(f"/v1/webhooks/{endpoint_id}")).json()
    cid = await _client(stack)
    await stack.http.post(f"/v1/clients/{cid}:pause", json={"reason": "asked by phone"})
    await stack.http.post(f"/v1/clients/{cid}:resume")
    await eventually(lambda: len(hook.events) >= 2, timeout=30)
    assert hook.types() == ["client.paused", "client.resumed"]
    assert hook.events[0]["data"] == {"client_id": cid, "paused_until": None}
    assert hook.bad_signatures == 0
    await eventually(lambda: _statuses(stack, endpoint_id, ["delivered", "delivered"]))
    # replay from before the pause sends both again, with the same webhook-id
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    replay = await stack.http.post(f"/v1/webhooks/{endpoint_id}:replay", json={"since": since})
    assert replay.status_code == 200, replay.text
    await eventually(lambda: len(hook.events) >= 4, timeout=30)
    assert hook.events[2]["webhook_id"] == hook.events[0]["webhook_id"]
    disabled = await stack.http.post(f"/v1/webhooks/{endpoint_id}:disable")
    assert disabled.json()["enabled"] is False


async def _statuses(stack: Stack, endpoint_id: str, expected: list[str]) -> bool:
    deliveries = (await stack.http.get(f"/v1/webhooks/{endpoint_id}/deliveries")).json()["items"]
    return [d["status"] for d in deliveries] == expected


async def test_private_endpoint_refused_unless_allowed(stack: Stack) -> None:
    # The test settings allow private URLs (like the dev stack); the check itself:
    from core.runtime.webhook_urls import url_form_problem, url_problem

    assert await url_problem("http://127.0.0.1:9/hook", allow_private=False) == "https is required"
    assert "private" in (await url_problem("https://10.0.0.5/hook", allow_private=False) or "")
    assert "loopback" in (await url_problem("https://localhost/hook", allow_private=False) or "")
    assert await url_problem("http://127.0.0.1:9/hook", allow_private=True) is None
    for allow_private in (False, True):  # a port out of range or a bad IPv6 literal: a reason, not a 500
        for url in ("https://x.example:99999/", "https://[:::]/", "http://["):
            assert await url_problem(url, allow_private) == "an absolute http(s) URL is needed"
        assert await url_problem("https://user:pw@x.example/", allow_private) == (
            "credentials in the URL are not allowed; sign with the endpoint secret instead"
        )
    for url in ("htTp://00*", "https://x.example:65536/", "https://a b/", "https://[::1]/"):
        assert url_form_problem(url) == "an absolute http(s) URL is needed", url
    for url in ("HTTPS://x.example:65535/a?b#c", "http://10.0.0.5", "https://a_b.x:0/"):
        assert url_form_problem(url) is None, url
    bad = await stack.http.post(
        "/v1/webhooks", json={"url": "ftp://x.example/", "event_types": ["email.sent"]}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "body.url"
    kinds = await stack.http.post("/v1/webhooks", json={"url": "https://x.example/", "event_types": ["nope"]})
    assert kinds.status_code == 422


async def test_outbox_events_carry_no_personal_data(stack: Stack) -> None:
    cid = await _client(stack)
    await stack.http.post(f"/v1/clients/{cid}:unsubscribe", json={"reason": "asked by phone"})
    async with stack.sessions() as session:
        rows = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.client_id == cid)))
    assert [r.type for r in rows] == ["client.unsubscribed"]
    assert "Anna" not in str(rows[0].data)
    assert "phone" not in str(rows[0].data)


async def test_resolve_unknown_email_once_then_409(stack: Stack) -> None:
    cid, eid = unique_id("c"), unique_id("e")
    await add_client(stack.sessions, cid)
    await add_email(stack.sessions, eid, cid, "unknown")
    first = await stack.http.post(
        f"/v1/emails/{eid}:resolve", json={"outcome": "sent", "note": "in the SMTP log"}
    )
    assert first.json() == {"email_id": eid, "action": "resolve", "changed": True, "status": "sent"}
    again = await stack.http.post(f"/v1/emails/{eid}:resolve", json={"outcome": "sent"})
    assert again.json()["changed"] is False
    other = await stack.http.post(f"/v1/emails/{eid}:resolve", json={"outcome": "not_sent"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "not_unknown"
    bad = await stack.http.post(f"/v1/emails/{eid}:resolve", json={"outcome": "maybe"})
    assert bad.status_code == 422
    detail = (await stack.http.get(f"/v1/emails/{eid}")).json()
    assert "resolved" in [e["kind"] for e in detail["events"]]
    async with stack.sessions() as session:
        types = list(await session.scalars(select(OutboxEvent.type).where(OutboxEvent.client_id == cid)))
    assert types == ["email.sent"]
    assert [e["outcome"] for e in await _audit(stack, target_id=eid)] == ["denied", "ok"]


async def test_cancel_refuses_what_is_not_in_flight(stack: Stack) -> None:
    cid = unique_id("c")
    await add_client(stack.sessions, cid)
    for eid, status in ((f"{cid}-sent", "sent"), (f"{cid}-gone", "cancelled"), (f"{cid}-orphan", "approved")):
        await add_email(stack.sessions, eid, cid, status)
    sent = await stack.http.post(f"/v1/emails/{cid}-sent:cancel")
    assert sent.status_code == 409
    assert sent.json()["error"]["code"] == "not_cancellable"
    assert (await stack.http.post(f"/v1/emails/{cid}-gone:cancel")).json()["changed"] is False
    # the database says approved, but no workflow holds it: the workflow's word wins
    orphan = await stack.http.post(f"/v1/emails/{cid}-orphan:cancel", json={"reason": "asked by phone"})
    assert orphan.status_code == 409
    assert (await stack.http.post(f"/v1/emails/{unique_id('none')}:cancel")).status_code == 404


async def test_worker_start_restores_delivery_workflows(stack: Stack) -> None:
    created = await stack.http.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["email.sent"]}
    )
    endpoint_id = created.json()["id"]
    handle = stack.temporal.get_workflow_handle(webhook_workflow_id(endpoint_id))
    await handle.terminate("lost")
    assert await ensure_webhook_deliveries(stack.temporal, stack.settings, stack.sessions) >= 1
    description = await stack.temporal.get_workflow_handle(webhook_workflow_id(endpoint_id)).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    await stack.http.post(f"/v1/webhooks/{endpoint_id}:disable")
    await eventually(lambda: _closed(stack, endpoint_id), timeout=30)  # the loop ends by itself


async def _closed(stack: Stack, endpoint_id: str) -> bool:
    description = await stack.temporal.get_workflow_handle(webhook_workflow_id(endpoint_id)).describe()
    return description.status == WorkflowExecutionStatus.COMPLETED
