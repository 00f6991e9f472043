"""``POST /v1/emails:import`` over HTTP against the real stack: rows, timeline, per-item
verdicts, idempotency, auth, and the live workflow's frequency cap counting an imported send."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.contracts.messages import QUERY_STATE, client_workflow_id
from core.contracts.state import ClientStateView
from core.store.db import utcnow
from core.store.models import Client, EmailEvent
from tests.helpers import eventually, order_body, unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal
URL = "/v1/emails:import"


def ago(**delta: float) -> str:
    return (utcnow() - timedelta(**delta)).isoformat()


def emailed(email_id: str, client_id: str, days: float = 40, **fields: Any) -> dict[str, Any]:
    return {
        "email_id": email_id,
        "client_id": client_id,
        "arm": "emailed",
        "drafted_at": ago(days=days, hours=3),
        "sent_at": ago(days=days),
        "subject": "We saved your size",
        **fields,
    }


def held_out(email_id: str, client_id: str, days: float = 40) -> dict[str, Any]:
    return {"email_id": email_id, "client_id": client_id, "arm": "holdout", "drafted_at": ago(days=days)}


async def new_client(stack: Stack, prefix: str = "imp") -> str:
    cid = unique_id(prefix)
    # An address on file: a client without one is never drafted.
    profile = {"first_name": "Anna", "time_zone": "UTC", "email": f"{cid}@example.org"}
    response = await stack.http.put(f"/v1/clients/{cid}", json=profile)
    assert response.status_code == 202, response.text
    return cid


async def post(http: httpx.AsyncClient, *items: Any) -> dict[str, Any]:
    response = await http.post(URL, json={"emails": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["results"]]


async def event_count(sessions: async_sessionmaker[AsyncSession], client_id: str) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(EmailEvent).where(EmailEvent.client_id == client_id)
        return int((await session.execute(query)).scalar_one())


async def state(stack: Stack, client_id: str) -> ClientStateView:
    handle = stack.temporal.get_workflow_handle(client_workflow_id(client_id))
    view: ClientStateView = await handle.query(QUERY_STATE, result_type=ClientStateView)
    return view


async def test_import_stores_both_arms_with_their_timeline(stack: Stack) -> None:
    cid = await new_client(stack)
    sent, held = emailed(f"{cid}-mc1", cid), held_out(f"{cid}-mc2", cid, days=70)
    body = await post(stack.http, sent, held)
    assert statuses(body) == ["imported", "imported"]
    assert (body["imported"], body["invalid"], body["conflict"]) == (2, 0, 0)

    page = (await stack.http.get("/v1/emails", params={"client_id": cid})).json()["items"]
    by_id = {e["email_id"]: e for e in page}
    assert by_id[sent["email_id"]]["status"] == "sent"
    assert by_id[sent["email_id"]]["holdout"] is False
    assert by_id[sent["email_id"]]["subject"] == "We saved your size"
    assert by_id[held["email_id"]]["status"] == "holdout"
    assert by_id[held["email_id"]]["holdout"] is True
    assert by_id[held["email_id"]]["sent_at"] is None

    detail = (await stack.http.get(f"/v1/emails/{sent['email_id']}")).json()
    assert detail["draft"]["generator"] == "import"
    assert detail["draft"]["body_text"] is None
    assert [e["kind"] for e in detail["events"]] == ["drafted", "sent", "imported"]
    assert detail["events"][-1]["actor"] == "test admin"
    held_detail = (await stack.http.get(f"/v1/emails/{held['email_id']}")).json()
    assert [e["kind"] for e in held_detail["events"]] == ["drafted", "holdout", "imported"]

    # The emailed send reached the workflow (the frequency cap counts it); the holdout did not.
    view = await eventually(lambda: _last_sent_is_set(stack, cid), timeout=20)
    assert view.last_sent_at == datetime.fromisoformat(sent["sent_at"])


async def _last_sent_is_set(stack: Stack, cid: str) -> ClientStateView | None:
    view = await state(stack, cid)
    return view if view.last_sent_at is not None else None


async def _settled(stack: Stack, cid: str) -> int | None:
    """The history length once the workflow has nothing in flight (its first run loads facts)."""
    described = await stack.temporal.get_workflow_handle(client_workflow_id(cid)).describe()
    raw = described.raw_description
    if raw.pending_activities or raw.HasField("pending_workflow_task"):
        return None
    return (await state(stack, cid)).history_length


async def test_import_is_idempotent_and_other_content_is_a_conflict(stack: Stack) -> None:
    cid = await new_client(stack)
    items = [emailed(f"{cid}-mc1", cid), held_out(f"{cid}-mc2", cid)]
    assert statuses(await post(stack.http, *items)) == ["imported", "imported"]
    events = await event_count(stack.sessions, cid)
    history = await eventually(lambda: _settled(stack, cid), timeout=20)

    again = await post(stack.http, *items)
    assert statuses(again) == ["unchanged", "unchanged"]
    assert await event_count(stack.sessions, cid) == events
    assert (await state(stack, cid)).history_length == history  # nothing signalled again

    moved = {**items[0], "sent_at": ago(days=20)}
    other_client = {**items[1], "client_id": await new_client(stack)}
    conflict = await post(stack.http, moved, other_client)
    assert statuses(conflict) == ["conflict", "conflict"]
    assert conflict["results"][0]["errors"][0]["field"] == "email_id"
    detail = (await stack.http.get(f"/v1/emails/{items[0]['email_id']}")).json()
    assert datetime.fromisoformat(detail["sent_at"]) == datetime.fromisoformat(items[0]["sent_at"])


async def test_import_reports_each_bad_item_and_keeps_the_good_ones(stack: Stack) -> None:
    cid = await new_client(stack)
    good = emailed(f"{cid}-ok", cid)
    cases: list[tuple[dict[str, Any], str, str]] = [
        (emailed(f"{cid}-a", cid, drafted_at="2025-10-02T07:30:00"), "drafted_at", "timezone"),
        (emailed(f"{cid}-b", cid, sent_at="2025-10-02T07:30:00"), "sent_at", "timezone"),
        (emailed(f"{cid}-c", cid, drafted_at=ago(days=-2), sent_at=ago(days=-2)), "drafted_at", "past"),
        (emailed(f"{cid}-d", cid, sent_at=ago(days=-1)), "sent_at", "past"),
        (emailed(f"{cid}-e", cid, sent_at=ago(days=41)), "sent_at", "before drafted_at"),
        ({**emailed(f"{cid}-f", cid), "sent_at": None}, "sent_at", "required"),
        ({**held_out(f"{cid}-g", cid), "sent_at": ago(days=1)}, "sent_at", "left out"),
        (emailed(f"{cid}-h", cid, arm="clicked"), "arm", "'emailed' or 'holdout'"),
        (emailed(f"{cid}-i", cid, body_text="Hi"), "body_text", "not permitted"),
        (emailed("has space", cid), "email_id", "pattern"),
        (emailed(f"{cid}-j", "has space"), "client_id", "pattern"),
        (emailed(f"{cid}-k", cid, subject="x" * 301), "subject", "300"),
        ({"email_id": f"{cid}-l", "client_id": cid, "arm": "holdout"}, "drafted_at", "required"),
    ]
    body = await post(stack.http, good, *(item for item, _, _ in cases), emailed(f"{cid}-ok", cid))
    assert statuses(body) == ["imported"] + ["invalid"] * (len(cases) + 1)
    for result, (_, field, reason) in zip(body["results"][1:], cases, strict=False):
        assert result["errors"][0]["field"] == field, result
        assert reason.lower() in result["errors"][0]["reason"].lower(), result
    assert body["results"][-1]["errors"] == [{"field": "email_id", "reason": "repeats item 0 of this batch"}]
    assert body["invalid"] == len(cases) + 1


async def test_import_for_an_unknown_client_is_a_per_item_error(stack: Stack) -> None:
    cid, ghost = await new_client(stack), unique_id("ghost")
    body = await post(stack.http, emailed(f"{ghost}-mc", ghost), emailed(f"{cid}-mc", cid))
    assert statuses(body) == ["unknown_client", "imported"]
    assert body["results"][0]["errors"][0]["field"] == "client_id"
    async with stack.sessions() as session:
        assert await session.get(Client, ghost) is None  # no client row, no workflow
    assert (await stack.http.get(f"/v1/emails/{ghost}-mc")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"emails": []}, "body.emails"), ({"emails": [{}] * 1001}, "body.emails"), ({}, "body.emails")],
    ids=["empty", "too-many", "missing"],
)
async def test_import_bad_envelope_is_422(stack: Stack, body: dict[str, Any], field: str) -> None:
    response = await stack.http.post(URL, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["fields"][0]["field"] == field


async def test_import_needs_an_admin_key(stack: Stack) -> None:
    cid = await new_client(stack)
    item = emailed(f"{cid}-mc", cid)
    assert (await stack.anon.post(URL, json={"emails": [item]})).status_code == 401
    for scope in ("ingest", "ops"):
        async with stack.client(await stack.key(scope)) as http:
            response = await http.post(URL, json={"emails": [item]})
        assert response.status_code == 403, scope
        assert response.json()["error"]["code"] == "forbidden"
    assert (await stack.http.get(f"/v1/emails/{cid}-mc")).status_code == 404


async def test_import_with_temporal_unreachable_is_503_and_stores_nothing(
    unreachable: httpx.AsyncClient, stack: Stack
) -> None:
    cid = await new_client(stack)  # the client row exists; only the signal cannot be sent
    response = await unreachable.post(URL, json={"emails": [emailed(f"{cid}-mc", cid)]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert await event_count(stack.sessions, cid) == 0


async def test_imported_send_holds_the_live_workflows_draft_until_the_cap_passes(stack: Stack) -> None:
    """Two clients silent for 100 days: the one emailed 10 days ago (imported) gets no draft."""
    capped, control = await new_client(stack, "capped"), await new_client(stack, "control")
    sent_at = utcnow() - timedelta(days=10)
    item = emailed(f"{capped}-mc", capped, sent_at=sent_at.isoformat(), drafted_at=ago(days=10, hours=2))
    assert statuses(await post(stack.http, item)) == ["imported"]
    for cid in (capped, control):
        for n, days in enumerate((160, 130, 100)):
            order = order_body(f"{cid}-o{n}", ago(days=days))
            response = await stack.http.post(f"/v1/clients/{cid}/orders", json=order)
            assert response.status_code == 202, response.text

    drafted = await eventually(lambda: _state_if(stack, control, lambda s: s.pending_email), timeout=60)
    assert drafted.tier == "at_risk"
    blocked = await eventually(lambda: _state_if(stack, capped, lambda s: s.tier == "at_risk"), timeout=60)
    assert blocked.pending_email is None
    assert blocked.blocked_reason == "frequency_cap"
    assert blocked.last_sent_at == sent_at
    assert blocked.next_wake_at is not None
    assert blocked.next_wake_at <= sent_at + timedelta(days=stack.settings.policy.frequency_cap_days)


async def _state_if(stack: Stack, cid: str, check: Any) -> ClientStateView | None:
    view = await state(stack, cid)
    return view if view.order_count == 3 and check(view) else None
