"""The preference page behind the unsubscribe link: pause 30/90 days, resubscribe, unsubscribe,
each recorded with its time and source and told to the workflow; everything escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.contracts.messages import SIGNAL_RESUBSCRIBED, SIGNAL_SNOOZED, SIGNAL_UNSUBSCRIBED
from core.domain.tokens import make_unsubscribe_token
from tests.helpers import eventually, unique_id
from tests.integration.api_factories import add_client
from tests.integration.conftest import Stack
from tests.integration.feedback_helpers import consent_sources, signals, suppression_reasons

pytestmark = pytest.mark.temporal


def _token(stack: Stack, client_id: str) -> str:
    return make_unsubscribe_token(client_id, stack.settings.security.unsubscribe_secret.get_secret_value())


async def _live(stack: Stack, client_id: str, **expected: Any) -> dict[str, Any] | None:
    live = (await stack.http.get(f"/v1/clients/{client_id}")).json().get("live_state") or {}
    return live if live and all(live.get(k) == v for k, v in expected.items()) else None


async def test_preferences_page_offers_every_choice(stack: Stack) -> None:
    cid = unique_id("p")
    await add_client(stack.sessions, cid, email="anna@example.com")
    token = _token(stack, cid)
    page = await stack.anon.get(f"/u/{token}")
    assert page.status_code == 200
    assert "You are subscribed." in page.text
    assert f'action="/u/{token}"' in page.text
    assert page.text.count(f'action="/u/{token}/pause"') == 2
    assert 'value="30"' in page.text
    assert 'value="90"' in page.text
    assert "Content-Security-Policy" in page.headers
    assert await consent_sources(stack.sessions, cid) == []  # GET changes nothing


async def test_pause_then_resubscribe_recorded_and_signalled(stack: Stack) -> None:
    cid = unique_id("p")
    await add_client(stack.sessions, cid, email="anna@example.com")
    token = _token(stack, cid)
    paused = await stack.anon.post(f"/u/{token}/pause", data={"days": "90"})
    assert paused.status_code == 200, paused.text
    until = datetime.now(UTC) + timedelta(days=90)
    assert f"Emails are paused until {until:%Y-%m-%d}" in paused.text
    live = await eventually(lambda: _live(stack, cid), timeout=30)
    assert live["paused_until"] is not None
    assert abs(datetime.fromisoformat(live["paused_until"]) - until) < timedelta(minutes=5)

    unsubscribed = await stack.anon.post(f"/u/{token}", data={"action": "unsubscribe"})
    assert "You are unsubscribed: we send you no emails." in unsubscribed.text
    await eventually(lambda: _live(stack, cid, unsubscribed=True), timeout=30)

    back = await stack.anon.post(f"/u/{token}/resubscribe")
    assert back.status_code == 200
    assert "You are subscribed." in back.text
    assert await suppression_reasons(stack.sessions, cid) == set()
    assert await consent_sources(stack.sessions, cid) == [
        ("paused", "preferences"),
        ("unsubscribed", "preferences"),
        ("resubscribed", "preferences"),
    ]
    live = await eventually(lambda: _live(stack, cid, unsubscribed=False, paused_until=None), timeout=30)
    assert live["bounced"] is False
    assert await signals(stack.temporal, cid) == [SIGNAL_SNOOZED, SIGNAL_UNSUBSCRIBED, SIGNAL_RESUBSCRIBED]


async def test_one_click_still_records_its_source(stack: Stack) -> None:
    cid = unique_id("p")
    response = await stack.anon.post(f"/u/{_token(stack, cid)}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert await consent_sources(stack.sessions, cid) == [("unsubscribed", "one_click")]


@pytest.mark.parametrize("days", ["7", "abc", ""])
async def test_pause_only_for_30_or_90_days(stack: Stack, days: str) -> None:
    cid = unique_id("p")
    response = await stack.anon.post(f"/u/{_token(stack, cid)}/pause", data={"days": days})
    assert response.status_code == 422
    assert await consent_sources(stack.sessions, cid) == []


async def test_preferences_forged_token_is_404_everywhere(stack: Stack) -> None:
    token = make_unsubscribe_token("<script>x</script>", "not-our-secret")
    for path in (f"/u/{token}", f"/u/{token}/resubscribe"):
        response = await stack.anon.post(path)
        assert response.status_code == 404
        assert "<script>" not in response.text
    response = await stack.anon.post(f"/u/{token}/pause", data={"days": "30"})
    assert response.status_code == 404
