"""A client workflow never fails: each activity's failure modes driven through the workflow on
the time-skipping server. Expected conflicts come back as results; anything unexpected is
flagged (``NeedsAttention``), backed off and retried with the workflow's state intact."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.facts import ClientFactsActivities
from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from core.contracts.approval import ApproveEmail, EmailDecision
from core.contracts.consent import EmailResolved, ProfileUpdated
from core.contracts.emails import UpdateEmailInput, UpdateEmailResult
from core.contracts.messages import (
    ACTIVITY_LOAD_CLIENT,
    ACTIVITY_RECORD_ORDER,
    ACTIVITY_RECORD_ORDERS,
    ACTIVITY_RESCORE,
    ACTIVITY_UPDATE_EMAIL,
    SIGNAL_EMAIL_RESOLVED,
    SIGNAL_ORDERS_IMPORTED,
    SIGNAL_PROFILE_UPDATED,
    UPDATE_APPROVE_EMAIL,
    OrderPlaced,
    OrdersImported,
    RecordOrderInput,
    RecordOrderResult,
    RecordOrdersInput,
    RecordOrdersResult,
)
from core.contracts.scoring import RescoreInput, RescoreResult
from core.contracts.state import ClientFacts, ClientStateView, LoadClientInput
from core.domain import search_attributes as sa
from tests.helpers import new_worker, random_task_queue, unique_id
from tests.workflows.conftest import CONFIG, Life, record_scenario
from tests.workflows.doubles import EmailDoubles
from tests.workflows.pipeline_env import AUTO, go_silent
from workflows.client import ClientEngagementWorkflow

pytestmark = pytest.mark.temporal
DAY = timedelta(days=1)


@dataclass
class Breakable:
    """The real database activities, each broken on demand through ``doubles.broken``."""

    doubles: EmailDoubles
    sessions: async_sessionmaker[AsyncSession]

    @activity.defn(name=ACTIVITY_RECORD_ORDER)
    async def record_order(self, input: RecordOrderInput) -> RecordOrderResult:
        self.doubles.check(ACTIVITY_RECORD_ORDER)
        return await OrderActivities(self.sessions).record_order(input)

    @activity.defn(name=ACTIVITY_RECORD_ORDERS)
    async def record_orders(self, input: RecordOrdersInput) -> RecordOrdersResult:
        self.doubles.check(ACTIVITY_RECORD_ORDERS)
        return await OrderActivities(self.sessions).record_orders(input)

    @activity.defn(name=ACTIVITY_RESCORE)
    async def rescore_client(self, input: RescoreInput) -> RescoreResult:
        self.doubles.check(ACTIVITY_RESCORE)
        return await ScoringActivities(self.sessions).rescore_client(input)

    @activity.defn(name=ACTIVITY_LOAD_CLIENT)
    async def load_client_facts(self, input: LoadClientInput) -> ClientFacts:
        self.doubles.check(ACTIVITY_LOAD_CLIENT)
        return await ClientFactsActivities(self.sessions).load_client_facts(input)


@pytest.fixture
async def life(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], request: pytest.FixtureRequest
) -> AsyncIterator[Life]:
    doubles = EmailDoubles()
    breakable = Breakable(doubles, sessions)
    life = Life(time_env, random_task_queue(), doubles, sessions)
    activities: list[Callable[..., Any]] = [
        breakable.record_order,
        breakable.record_orders,
        breakable.rescore_client,
        breakable.load_client_facts,
        life.policy.load_policy,
    ]
    worker = new_worker(
        life.client,
        workflows=[ClientEngagementWorkflow],
        activities=[*activities, *doubles.activities()],
        task_queue=life.task_queue,
    )
    async with worker:
        yield life
        await record_scenario(life, request)
        await life.end()


def attention(state: ClientStateView) -> bool:
    return state.needs_attention


async def flagged(life: Life, cid: str) -> bool | None:
    description = await life.handle(cid).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    return description.typed_search_attributes.get(sa.NEEDS_ATTENTION)


@pytest.mark.parametrize("broken", [ACTIVITY_LOAD_CLIENT, ACTIVITY_RECORD_ORDER, ACTIVITY_RESCORE])
async def test_client_database_activity_failure_is_flagged_and_retried(life: Life, broken: str) -> None:
    cid = unique_id("broken")
    life.doubles.broken.add(broken)
    await life.order(cid, f"{cid}-o1")
    state = await life.until(cid, attention, step=timedelta(minutes=1), limit=timedelta(hours=1))
    assert state.attention_at is not None
    assert state.counters.activity_failures >= 1
    assert await flagged(life, cid) is True
    await life.sleep(timedelta(hours=2))  # still failing: backed off, still running
    assert (await life.state(cid)).counters.activity_failures <= 6

    life.doubles.broken.clear()
    state = await life.until(
        cid,
        lambda s: s.order_count == 1 and s.tier is not None,
        step=timedelta(hours=1),
        limit=timedelta(days=1),
    )
    assert not state.needs_attention
    assert await flagged(life, cid) is False
    await life.order(cid, f"{cid}-o2")  # and it carries on as usual
    await life.until(cid, lambda s: s.order_count == 2, step=timedelta(minutes=1), limit=timedelta(hours=1))


async def test_client_imported_history_record_failure_is_flagged_and_retried(life: Life) -> None:
    """``record_orders`` failing keeps the whole imported history pending, then records it once."""
    cid = unique_id("broken-import")
    life.doubles.broken.add(ACTIVITY_RECORD_ORDERS)
    now = await life.now()
    orders = [
        OrderPlaced(
            order_id=f"{cid}-o{i}", placed_at=now - timedelta(days=40 - i), currency="USD", amount=Decimal(30)
        )
        for i in range(4)
    ]
    await life.signal(cid, SIGNAL_ORDERS_IMPORTED, OrdersImported(orders=orders))
    state = await life.until(cid, attention, step=timedelta(minutes=1), limit=timedelta(hours=1))
    assert (state.order_count, state.pending_orders) == (0, 4)
    assert await flagged(life, cid) is True

    life.doubles.broken.clear()
    state = await life.until(
        cid, lambda s: s.order_count == 4, step=timedelta(hours=1), limit=timedelta(days=1)
    )
    assert (state.pending_orders, state.counters.orders_recorded) == (0, 4)
    assert not state.needs_attention


async def test_client_update_email_failure_keeps_the_decision_and_applies_it_later(life: Life) -> None:
    cid = unique_id("timeline")
    await go_silent(life, cid, CONFIG)
    state = await life.until(cid, lambda s: s.pending_email is not None, step=timedelta(days=1))
    assert state.pending_email is not None
    email_id = state.pending_email.email_id
    life.doubles.broken.add(ACTIVITY_UPDATE_EMAIL)
    update = await life.handle(cid).start_update(
        UPDATE_APPROVE_EMAIL,
        ApproveEmail(email_id=email_id, approved_by="ops-ana"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        result_type=EmailDecision,
    )
    await life.sleep(timedelta(hours=1))
    state = await life.state(cid)
    assert state.needs_attention
    assert state.pending_email is not None
    assert state.pending_email.status == "pending_approval"  # nothing half-done
    assert await flagged(life, cid) is True

    life.doubles.broken.clear()
    await life.sleep(timedelta(hours=6))
    decision = await update.result()
    assert (decision.email_id, decision.status) in {(email_id, "approved"), (email_id, "sent")}
    state = await life.state(cid)
    assert not state.needs_attention
    assert len(life.doubles.drafts) == 1
    assert await flagged(life, cid) is False


async def approve(life: Life, cid: str, email_id: str, **edits: str) -> EmailDecision:
    decision: EmailDecision = await life.handle(cid).execute_update(
        UPDATE_APPROVE_EMAIL,
        ApproveEmail(email_id=email_id, approved_by="ops-ana", **edits),
        result_type=EmailDecision,
    )
    return decision


def refuse_edits(input: UpdateEmailInput) -> UpdateEmailResult | None:
    """The activity's guardrails (newer settings) refuse an edit the workflow's validator passed."""
    if input.status == "approved" and input.body_text is not None:
        return UpdateEmailResult(
            email_id=input.email_id,
            status="pending_approval",
            applied=False,
            reason="edited email fails the guardrails: no_unapproved_offer",
        )
    return None


async def test_client_edit_refused_by_the_activity_leaves_the_draft_pending(life: Life) -> None:
    cid = unique_id("refused")
    life.doubles.update_answer = refuse_edits
    await go_silent(life, cid, CONFIG)
    state = await life.until(cid, lambda s: s.pending_email is not None, step=timedelta(days=1))
    assert state.pending_email is not None
    email_id = state.pending_email.email_id
    body = "Hello, it has been a while. Here is what is new in our shop this season."
    refused = await approve(life, cid, email_id, body_text=body)
    assert (refused.status, refused.reason) == (
        "pending_approval",
        "edited email fails the guardrails: no_unapproved_offer",
    )
    assert (await life.state(cid)).pending_email is not None
    plain = await approve(life, cid, email_id)  # the unedited draft is approved as usual
    assert plain.status in ("approved", "sent")
    assert (await life.handle(cid).describe()).status == WorkflowExecutionStatus.RUNNING


async def test_client_email_missing_in_the_database_is_closed_not_failed(life: Life) -> None:
    cid = unique_id("missing")
    life.doubles.update_answer = lambda i: (
        UpdateEmailResult(email_id=i.email_id, status=None, applied=False, reason="no such email")
        if i.status == "approved"
        else None
    )
    await go_silent(life, cid, CONFIG)
    state = await life.until(cid, lambda s: s.pending_email is not None, step=timedelta(days=1))
    assert state.pending_email is not None
    decision = await approve(life, cid, state.pending_email.email_id)
    assert decision.status == "cancelled"
    state = await life.state(cid)
    assert state.last_email is not None
    assert (state.last_email.status, state.last_email.reason) == ("cancelled", "no such email")
    assert (await life.handle(cid).describe()).status == WorkflowExecutionStatus.RUNNING


async def test_client_send_not_delivered_is_deferred_then_sent_once(life: Life) -> None:
    cid = unique_id("deferred")
    life.doubles.send_errors = [
        ApplicationError("SMTP authentication refused", type="SmtpAuthFailed", non_retryable=True),
        ApplicationError("connection refused", type="SmtpTransient", non_retryable=True),
    ]
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.last_email is not None, step=timedelta(hours=6))
    assert state.last_email is not None
    assert state.last_email.status == "sent"
    assert state.counters.send_deferrals == 2
    assert len(life.doubles.sends(cid)) == 1
    statuses = life.doubles.statuses(cid)
    assert statuses.count("approved") == 3  # approved, then two reschedules; never unknown
    assert "unknown" not in statuses


async def test_client_send_refused_as_not_approved_is_cancelled(life: Life) -> None:
    cid = unique_id("refusal")
    life.doubles.send_errors = [
        ApplicationError("email is cancelled", type="EmailNotApproved", non_retryable=True)
    ]
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.last_email is not None, step=timedelta(hours=6))
    assert state.last_email is not None
    assert (state.last_email.status, state.last_email.reason) == (
        "cancelled",
        "not sendable: EmailNotApproved",
    )
    assert life.doubles.sends(cid) == []


async def test_client_without_an_address_waits_and_is_drafted_once_one_arrives(life: Life) -> None:
    cid = unique_id("no-address")
    life.doubles.no_address.add(cid)
    await go_silent(life, cid, CONFIG)
    state = await life.until(cid, lambda s: s.blocked_reason is not None, step=timedelta(days=1))
    assert (state.blocked_reason, state.pending_email, state.bounced) == ("no_email_address", None, False)
    life.doubles.no_address.discard(cid)  # the profile reaches the database, then the workflow
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(email="late@example.org"))
    state = await life.until(
        cid, lambda s: s.pending_email is not None, step=timedelta(minutes=10), limit=timedelta(hours=1)
    )
    assert state.blocked_reason is None
    assert len(life.doubles.drafts) == 1


async def test_client_blocked_draft_keeps_its_retry_time_through_continue_as_new(life: Life) -> None:
    """A new run carries the block and its retry time: it neither forgets why the client waits
    nor drafts again before the retry is due (nor after an address, which it did not get)."""
    cid = unique_id("no-address-can")
    life.doubles.no_address.add(cid)
    config = CONFIG.model_copy(update={"events_per_run": 50, "quiet_hours_start": 0, "quiet_hours_end": 0})
    await go_silent(life, cid, config)
    # Steps of 6 hours: the failed draft is at most that old when the block is seen.
    blocked = await life.until(cid, lambda s: s.blocked_reason is not None, step=timedelta(hours=6))
    assert life.doubles.draft_calls.count(cid) == 1
    for i in range(40):  # one message at a time until the run hands over
        zone = "Europe/Paris" if i % 2 else "Europe/Rome"
        await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(time_zone=zone), config)
        await life.sleep(timedelta(minutes=1))
        if (await life.state(cid)).counters.runs > blocked.counters.runs:
            break
    after = await life.state(cid)
    assert after.counters.runs > blocked.counters.runs
    assert after.blocked_reason == "no_email_address"
    await life.sleep(timedelta(hours=12))  # < 19 h after the failure: a lost retry time drafts now
    assert life.doubles.draft_calls.count(cid) == 1  # the retry is a day after the failure
    await life.until(cid, lambda _s: life.doubles.draft_calls.count(cid) == 2, step=timedelta(hours=4))
    assert (await life.state(cid)).blocked_reason == "no_email_address"


async def test_client_failed_draft_is_counted_and_retried_a_day_later(life: Life) -> None:
    """The drafter down after its retries: the client waits (draft_failed), the failure is
    counted, nothing spins; the next day's attempt drafts once the drafter is back."""
    cid = unique_id("draft-down")
    life.doubles.fail_drafts = True
    config = CONFIG.model_copy(update={"quiet_hours_start": 0, "quiet_hours_end": 0})
    await go_silent(life, cid, config)
    state = await life.until(cid, lambda s: s.blocked_reason is not None, step=timedelta(hours=6))
    assert (state.blocked_reason, state.pending_email, state.counters.draft_failures) == (
        "draft_failed",
        None,
        1,
    )
    await life.sleep(timedelta(hours=12))
    assert life.doubles.draft_calls.count(cid) == 1  # no retry before the day is out
    life.doubles.fail_drafts = False
    state = await life.until(cid, lambda s: s.pending_email is not None, step=timedelta(hours=4), limit=DAY)
    assert (state.blocked_reason, state.counters.draft_failures, state.counters.drafts) == (None, 1, 1)
    assert life.doubles.draft_calls.count(cid) == 2


async def test_client_unknown_email_resolved_by_ops_is_recorded_once(life: Life) -> None:
    """``email_resolved`` (sent by ``POST /v1/emails/{id}:resolve`` after the database moved):
    the workflow's last email follows, only for that email and only from ``unknown``."""
    cid = unique_id("resolved")
    life.doubles.send_outcome = "unknown"
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.last_email is not None, step=timedelta(days=1))
    assert state.last_email is not None
    assert state.last_email.status == "unknown"
    email_id = state.last_email.email_id
    await life.signal(cid, SIGNAL_EMAIL_RESOLVED, EmailResolved(email_id="someone-else", status="sent"), AUTO)
    await life.signal(
        cid, SIGNAL_EMAIL_RESOLVED, EmailResolved(email_id=email_id, status="failed", by="ana"), AUTO
    )
    await life.signal(cid, SIGNAL_EMAIL_RESOLVED, EmailResolved(email_id=email_id, status="sent"), AUTO)
    state = await life.until(cid, lambda s: s.last_email is not None and s.last_email.status != "unknown")
    assert state.last_email is not None
    assert (state.last_email.email_id, state.last_email.status) == (email_id, "failed")
    assert state.last_email.reason == "resolved as not sent by ana"
    assert state.last_sent_at is not None  # the cap still counts it: the conservative reading
