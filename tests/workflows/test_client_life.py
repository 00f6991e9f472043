"""A client's life in seconds on the time-skipping server: orders, silence, win-back."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute
from temporalio.client import WorkflowUpdateFailedError

from core.contracts.approval import ApproveEmail, EmailDecision, RejectEmail
from core.contracts.consent import PastEmailSent, ProfileUpdated
from core.contracts.messages import (
    SIGNAL_PAST_EMAIL_SENT,
    SIGNAL_PAUSED,
    SIGNAL_PROFILE_UPDATED,
    SIGNAL_RESUMED,
    SIGNAL_UNSUBSCRIBED,
    UPDATE_APPROVE_EMAIL,
    UPDATE_REJECT_EMAIL,
)
from core.contracts.state import ClientStateView, WorkflowConfig
from core.domain import search_attributes as sa
from core.store.models import Client, EngagementScore, Order
from tests.helpers import unique_id
from tests.workflows.conftest import CONFIG, Life

pytestmark = pytest.mark.temporal

TOKYO = ZoneInfo("Asia/Tokyo")


async def go_silent(life: Life, cid: str, config: WorkflowConfig = CONFIG) -> None:
    """Three monthly orders, then nothing: at risk 75 days after the last one."""
    for month in range(3):
        await life.order(cid, f"{cid}-o{month}", config)
        await life.sleep(timedelta(days=30))


def has_draft(state: ClientStateView) -> bool:
    return state.pending_email is not None


async def approve(life: Life, cid: str, email_id: str, **edits: str) -> EmailDecision:
    decision: EmailDecision = await life.handle(cid).execute_update(
        UPDATE_APPROVE_EMAIL,
        ApproveEmail(email_id=email_id, approved_by="ops-ana", **edits),
        result_type=EmailDecision,
    )
    return decision


async def count(life: Life, column: InstrumentedAttribute[str], cid: str) -> int:
    async with life.sessions() as session:
        return int(await session.scalar(select(func.count()).where(column == cid)) or 0)


def next_local(now: datetime, hour: int, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    target = datetime.combine(local.date(), time(hour), tzinfo=tz)
    return target if target > local else target + timedelta(days=1)


async def test_client_monthly_orders_stay_active_all_year_without_email(life: Life) -> None:
    cid = unique_id("monthly")
    for month in range(12):
        await life.order(cid, f"{cid}-o{month}")
        await life.sleep(timedelta(days=30))
    state = await life.state(cid)
    assert state.order_count == 12
    assert state.tier == "active"
    assert state.pending_email is None
    assert life.doubles.drafts == []
    assert state.counters.rescores <= 12 + 2  # adaptive: one rescore per order, no daily tick
    assert await count(life, Order.client_id, cid) == 12
    assert await count(life, EngagementScore.client_id, cid) == state.counters.rescores
    async with life.sessions() as session:
        row = await session.get(Client, cid)
    assert row is not None
    assert row.tier == "active"
    assert row.score == state.score.score if state.score else row.score is not None


async def test_client_silent_is_drafted_approved_and_sent_at_nine_in_tokyo(life: Life) -> None:
    cid = unique_id("tokyo")
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(time_zone="Asia/Tokyo"))
    await go_silent(life, cid)
    state = await life.until(cid, has_draft)
    assert state.tier == "at_risk"
    assert state.score is not None
    assert "usually orders every 30" in state.score.reasons[0]
    email = state.pending_email
    assert email is not None
    assert email.status == "pending_approval"
    described = await life.handle(cid).describe()
    assert described.typed_search_attributes.get(sa.AWAITING_APPROVAL) is True
    assert described.typed_search_attributes.get(sa.RISK_TIER) == "at_risk"

    now = await life.now()
    await life.sleep(next_local(now, 22, TOKYO) - now)  # ops approve late in the evening, Tokyo time
    decision = await approve(life, cid, email.email_id, subject="We kept your size aside")
    assert decision.status == "approved"
    assert decision.scheduled_for is not None
    assert decision.scheduled_for.astimezone(TOKYO).time() == time(9)
    assert life.doubles.sends(cid) == []

    await life.sleep(timedelta(hours=12))
    sends = life.doubles.sends(cid)
    assert len(sends) == 1
    assert sends[0].at.astimezone(TOKYO).hour == 9
    assert life.doubles.statuses(cid) == ["pending_approval", "approved", "sent"]
    approved = next(u for u in life.doubles.updates if u.status == "approved")
    assert (approved.actor, approved.subject) == ("ops-ana", "We kept your size aside")

    with pytest.raises(WorkflowUpdateFailedError):  # a second approval is refused by the validator
        await approve(life, cid, email.email_id)
    await life.sleep(timedelta(days=10))
    state = await life.state(cid)
    assert len(life.doubles.sends(cid)) == 1
    assert state.last_email is not None
    assert state.last_email.status == "sent"
    assert state.counters.sent == 1
    assert (await life.handle(cid).describe()).typed_search_attributes.get(sa.AWAITING_APPROVAL) is False


async def test_client_rejected_draft_is_never_sent(life: Life) -> None:
    cid = unique_id("reject")
    await go_silent(life, cid)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    decision = await life.handle(cid).execute_update(
        UPDATE_REJECT_EMAIL,
        RejectEmail(email_id=email.email_id, rejected_by="ops-bo", reason="tone is off"),
        result_type=EmailDecision,
    )
    assert decision.status == "rejected"
    await life.sleep(timedelta(days=5))
    state = await life.state(cid)
    assert state.pending_email is None
    assert state.last_email is not None
    assert state.last_email.reason == "tone is off"
    assert life.doubles.statuses(cid) == ["pending_approval", "rejected"]
    assert life.doubles.sends(cid) == []
    assert state.draft_not_before is not None  # cool-down before another try


async def test_client_draft_expires_without_decision(life: Life) -> None:
    cid = unique_id("expire")
    config = CONFIG.model_copy(update={"approval_expiry_hours": 48.0})
    await go_silent(life, cid, config)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    await life.sleep(timedelta(hours=49))
    state = await life.state(cid)
    assert state.last_email is not None
    assert state.last_email.status == "expired"
    assert life.doubles.statuses(cid) == ["pending_approval", "expired"]
    with pytest.raises(WorkflowUpdateFailedError):
        await approve(life, cid, email.email_id)
    assert life.doubles.sends(cid) == []


async def test_client_new_order_cancels_pending_draft(life: Life) -> None:
    cid = unique_id("cameback")
    await go_silent(life, cid)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    await life.order(cid, f"{cid}-back")
    state = await life.until(cid, lambda s: s.pending_email is None, step=timedelta(minutes=1))
    assert state.last_email is not None
    assert (state.last_email.status, state.last_email.reason) == ("cancelled", "client ordered")
    assert state.tier == "active"
    with pytest.raises(WorkflowUpdateFailedError):
        await approve(life, cid, email.email_id)
    assert life.doubles.statuses(cid) == ["pending_approval", "cancelled"]
    assert life.doubles.sends(cid) == []


async def test_client_unsubscribe_during_approval_cancels_and_nothing_is_sent(life: Life) -> None:
    cid = unique_id("unsub")
    await go_silent(life, cid)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    await life.signal(cid, SIGNAL_UNSUBSCRIBED, {"at": (await life.now()).isoformat(), "source": "one_click"})
    with pytest.raises(WorkflowUpdateFailedError):
        await approve(life, cid, email.email_id)
    await life.sleep(timedelta(days=90))
    state = await life.state(cid)
    assert state.unsubscribed
    assert state.last_email is not None
    assert (state.last_email.status, state.last_email.reason) == ("cancelled", "unsubscribed")
    assert life.doubles.statuses(cid) == ["pending_approval", "cancelled"]
    assert len(life.doubles.drafts) == 1
    assert life.doubles.sends(cid) == []


async def test_client_frequency_cap_reschedules_second_email(life: Life) -> None:
    cid = unique_id("cap")
    config = CONFIG.model_copy(update={"auto_approve": True, "cool_down_days": 7, "frequency_cap_days": 30})
    await go_silent(life, cid, config)
    await life.until(cid, lambda s: s.counters.sent == 1)
    first = life.doubles.sends(cid)[0].at
    state = await life.until(cid, lambda s: s.blocked_reason == "frequency_cap", step=timedelta(days=1))
    assert state.next_wake_at is not None
    assert state.next_wake_at >= first + timedelta(days=30, seconds=-1)
    await life.until(cid, lambda s: s.counters.sent == 2, step=timedelta(days=2))
    second = life.doubles.sends(cid)[1].at
    assert second - first >= timedelta(days=30, seconds=-1)
    assert life.doubles.statuses(cid).count("sent") == 2


async def test_client_past_email_sent_holds_the_draft_until_the_cap_passes(life: Life) -> None:
    cid = unique_id("past")
    await go_silent(life, cid)
    await life.sleep(timedelta(days=55))  # 85 days since the last order: at risk at 94
    assert (await life.state(cid)).tier == "cooling"
    sent_at = await life.now() - timedelta(days=10)
    await life.signal(cid, SIGNAL_PAST_EMAIL_SENT, PastEmailSent(sent_at=sent_at))
    older = PastEmailSent(sent_at=sent_at - timedelta(days=5))
    await life.signal(cid, SIGNAL_PAST_EMAIL_SENT, older)  # an older send never moves the cap back
    state = await life.until(cid, lambda s: s.tier == "at_risk", step=timedelta(days=1))
    assert state.last_sent_at == sent_at
    assert state.blocked_reason == "frequency_cap"
    assert state.pending_email is None
    assert state.next_wake_at is not None
    assert state.next_wake_at <= sent_at + timedelta(days=30)
    state = await life.until(cid, has_draft, step=timedelta(days=1))
    assert state.pending_email is not None
    assert state.pending_email.created_at >= sent_at + timedelta(days=30)
    assert len(life.doubles.drafts) == 1


async def test_client_holdout_records_would_have_sent_and_never_sends(life: Life) -> None:
    cid = unique_id("holdout")
    config = CONFIG.model_copy(update={"auto_approve": True, "holdout_fraction": 1.0})
    await go_silent(life, cid, config)
    state = await life.until(cid, lambda s: s.counters.would_have_sent == 1)
    assert state.holdout
    assert life.doubles.statuses(cid) == ["pending_approval", "approved", "holdout"]
    assert [u.reason for u in life.doubles.updates if u.status == "holdout"] == ["would have sent"]
    assert life.doubles.sends(cid) == []
    assert (await life.handle(cid).describe()).typed_search_attributes.get(sa.HOLDOUT_GROUP) is True


async def test_client_paused_gets_nothing_until_resumed(life: Life) -> None:
    cid = unique_id("pause")
    config = CONFIG.model_copy(update={"auto_approve": True})
    await go_silent(life, cid, config)
    await life.signal(cid, SIGNAL_PAUSED, {"reason": "complaint open"}, config)
    state = await life.until(cid, lambda s: s.tier == "at_risk", step=timedelta(days=1))
    await life.sleep(timedelta(days=20))
    state = await life.state(cid)
    assert state.paused
    assert state.blocked_reason == "paused"
    assert life.doubles.drafts == []
    await life.signal(cid, SIGNAL_RESUMED, {}, config)
    await life.until(cid, lambda s: s.counters.sent == 1, step=timedelta(hours=6), limit=timedelta(days=3))
    assert life.doubles.statuses(cid) == ["pending_approval", "approved", "sent"]
