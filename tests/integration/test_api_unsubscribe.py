"""Unsubscribe links: GET confirms, POST (RFC 8058 one-click) opts out once, forgeries fail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from core.contracts.messages import client_workflow_id
from core.domain.tokens import make_unsubscribe_token
from core.store.models import Client, Suppression
from tests.helpers import unique_id
from tests.integration.api_factories import add_client
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _token(stack: Stack, client_id: str) -> str:
    return make_unsubscribe_token(client_id, stack.settings.security.unsubscribe_secret.get_secret_value())


async def _suppressions(stack: Stack, client_id: str) -> int:
    async with stack.sessions() as session:
        query = select(func.count()).select_from(Suppression).where(Suppression.client_id == client_id)
        return int((await session.execute(query)).scalar_one())


async def test_unsubscribe_get_confirms_without_unsubscribing(stack: Stack) -> None:
    cid = unique_id("u")
    await add_client(stack.sessions, cid, email="anna@example.com")
    token = _token(stack, cid)
    response = await stack.anon.get(f"/u/{token}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'<form method="post" action="/u/{token}">' in response.text
    assert "anna@example.com" not in response.text
    assert await _suppressions(stack, cid) == 0


async def test_unsubscribe_one_click_records_signals_and_is_idempotent(stack: Stack) -> None:
    cid = unique_id("u")
    await add_client(stack.sessions, cid, email="anna@example.com")
    token = _token(stack, cid)
    first = await stack.anon.post(f"/u/{token}", data=ONE_CLICK)
    assert first.status_code == 200, first.text
    assert "unsubscribed" in first.text
    async with stack.sessions() as session:
        client = await session.get(Client, cid)
        assert client is not None
        at = client.unsubscribed_at
        row = (await session.execute(select(Suppression).where(Suppression.client_id == cid))).scalar_one()
    assert at is not None
    assert (row.email, row.reason) == ("anna@example.com", "unsubscribed")

    again = await stack.anon.post(f"/u/{token}", data=ONE_CLICK)
    assert again.status_code == 200
    assert await _suppressions(stack, cid) == 1
    async with stack.sessions() as session:
        client = await session.get(Client, cid)
        assert client is not None
        assert client.unsubscribed_at == at

    handle = stack.temporal.get_workflow_handle(client_workflow_id(cid))
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == ["unsubscribed", "unsubscribed"]


async def test_unsubscribe_unknown_client_still_opts_out(stack: Stack) -> None:
    cid = unique_id("never-seen")
    response = await stack.anon.post(f"/u/{_token(stack, cid)}")
    assert response.status_code == 200
    assert await _suppressions(stack, cid) == 1


@pytest.mark.parametrize("kind", ["forged", "other-client", "wrong-secret", "garbage", "markup"])
async def test_unsubscribe_forged_token_is_404(stack: Stack, kind: str) -> None:
    victim, attacker = unique_id("v"), unique_id("a")
    await add_client(stack.sessions, victim)
    own = _token(stack, attacker)
    victim_id_part = _token(stack, victim).split(".")[0]
    token = {
        "forged": f"{victim_id_part}.AAAAAAAAAAAAAAAAAAAAAA",
        "other-client": f"{victim_id_part}.{own.split('.')[1]}",
        "wrong-secret": make_unsubscribe_token(victim, "not-our-secret"),
        "garbage": "not-a-token",
        "markup": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    }[kind]
    for method in ("GET", "POST"):
        response = await stack.anon.request(
            method, f"/u/{token}", data=ONE_CLICK if method == "POST" else None
        )
        assert response.status_code == 404, (method, response.text)
        assert "<script>" not in response.text
    assert await _suppressions(stack, victim) == 0
