"""update_email: forward-only status moves, a timeline written once, edits re-checked and re-rendered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.drafting import DraftingActivities
from activities.emails import EmailActivities
from core.contracts.emails import DraftEmailInput, UpdateEmailInput, UpdateEmailResult
from core.runtime.settings import Settings
from tests.activities.factories import NOW, add_client, add_email, events, get_email
from tests.helpers import unique_id


async def _update(acts: EmailActivities, **fields: object) -> UpdateEmailResult:
    fields.setdefault("at", NOW)
    input = UpdateEmailInput.model_validate(fields)
    result: UpdateEmailResult = await ActivityEnvironment().run(acts.update_email, input)
    return result


async def test_update_email_approval_with_edits_is_rechecked_and_rendered(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="pending_approval")
    acts = EmailActivities(sessions, settings)
    body = 'Hi Anna,\n\nFish & chips <3 and "new" knitwear for you.\n\nThe Rekindle team'
    slot = NOW + timedelta(hours=5)
    for _ in range(2):  # a retry changes nothing more
        result = await _update(
            acts,
            email_id=eid,
            client_id=cid,
            status="approved",
            actor="ops-1",
            scheduled_for=slot,
            subject="Edited subject",
            body_text=body,
        )
        assert result == UpdateEmailResult(email_id=eid, status="approved", applied=True)
    row = await get_email(sessions, eid)
    assert (row.approved_by, row.approved_at, row.scheduled_for) == ("ops-1", NOW, slot)
    assert (row.subject, row.body_text) == ("Edited subject", body)
    assert row.body_html is not None
    assert "Fish &amp; chips &lt;3 and &#34;new&#34;" in row.body_html
    assert await events(sessions, eid) == ["approved"]
    later = await _update(
        acts,
        email_id=eid,
        client_id=cid,
        status="approved",
        at=NOW + timedelta(hours=1),
        scheduled_for=slot + timedelta(days=1),
    )
    assert later.applied
    assert await events(sessions, eid) == ["approved", "rescheduled"]


async def test_update_email_edits_failing_guardrails_are_refused_as_a_result(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="pending_approval")
    result = await _update(
        EmailActivities(sessions, settings),
        email_id=eid,
        client_id=cid,
        status="approved",
        body_text="Hi Anna, take 50% off today at https://elsewhere.example.com",
    )
    assert (result.applied, result.status) == (False, "pending_approval")
    assert result.reason is not None
    assert "no_unapproved_offer" in result.reason
    assert "only_our_links" in result.reason
    assert (await get_email(sessions, eid)).status == "pending_approval"


@pytest.mark.parametrize(
    ("current", "target", "applied"),
    [
        ("sent", "approved", False),
        ("sending", "cancelled", False),
        ("rejected", "approved", False),
        ("approved", "cancelled", True),
        ("pending_approval", "expired", True),
        ("pending_approval", "holdout", True),
        ("sent", "sent", True),
        ("sending", "sent", False),
    ],
)
async def test_update_email_moves_only_forward(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], current: str, target: str, applied: bool
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status=current)
    result = await _update(
        EmailActivities(sessions, settings), email_id=eid, client_id=cid, status=target, reason="why"
    )
    assert result.applied is applied
    row = await get_email(sessions, eid)
    assert row.status == (target if applied else current) == result.status
    assert await events(sessions, eid) == ([target] if applied else [])
    if target == "holdout":
        assert row.holdout


async def test_update_email_rejection_records_reason(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="pending_approval")
    await _update(
        EmailActivities(sessions, settings),
        email_id=eid,
        client_id=cid,
        status="rejected",
        actor="ops",
        reason="tone",
    )
    assert (await get_email(sessions, eid)).rejected_reason == "tone"


async def test_update_email_cancel_before_draft_leaves_a_tombstone(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = unique_id("e")
    result = await _update(
        EmailActivities(sessions, settings),
        email_id=eid,
        client_id=cid,
        status="cancelled",
        reason="unsubscribed",
    )
    assert result.applied
    draft = await ActivityEnvironment().run(
        DraftingActivities(sessions, settings).draft_email,
        DraftEmailInput(email_id=eid, client_id=cid, tier="at_risk", created_at=NOW),
    )
    assert draft.status == "cancelled"
    assert (await get_email(sessions, eid)).status == "cancelled"


async def test_update_email_unknown_email_is_answered_not_raised(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    result = await _update(
        EmailActivities(sessions, settings), email_id="nope", client_id="c", status="approved"
    )
    assert (result.applied, result.status, result.reason) == (False, None, "no such email")
