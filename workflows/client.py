"""The client engagement workflow: one durable entity per client.

A client's workflow (id ``client-{client_id}``) is started by the first event the
API forwards for them and then lives as long as the client does. Handlers only
record what arrived; the main loop does the work, one pass per wake-up:
record new orders (a newer order cancels a pending email: the client came back),
enforce consent, rescore when due, advance the email pipeline
(draft -> approval/auto-approve/expiry -> policy gate -> send window -> send or
holdout -> cool-down), publish search attributes, then sleep until the earliest
moment something can change: the next tier boundary from the score, an approval
deadline, a scheduled send or a rescheduled draft. There is no daily tick. When
the history grows, the run continues as new with a compact ``CarriedState``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate, SearchAttributeValueType
from temporalio.exceptions import ApplicationError

from workflows import calls
from workflows.pipeline import Consent, EmailPipeline

with workflow.unsafe.imports_passed_through():
    from core import policy
    from core import search_attributes as sa
    from core.contracts import (
        CLIENT_WORKFLOW,
        ApproveEmail,
        CarriedState,
        ClientProfile,
        ClientStateView,
        ClientWorkflowInput,
        EmailDecision,
        OrderPlaced,
        PastEmailSent,
        Paused,
        ProfileUpdated,
        RecordOrderInput,
        RejectEmail,
        RescoreInput,
        Resumed,
        ScoreView,
        Unsubscribed,
        WorkflowCounters,
    )
    from core.edits import check_edit
    from core.ledger import OrderLedger

FALLBACK_CHECK = timedelta(days=30)  # when the score names no next boundary (no orders, lapsed)
MIN_CHECK_DELAY = timedelta(hours=1)
MAX_SLEEP = timedelta(days=180)
MIN_SLEEP = timedelta(seconds=1)


@workflow.defn(name=CLIENT_WORKFLOW)
class ClientEngagementWorkflow:
    """Listens to one client, scores them, and wins them back politely when they drift."""

    @workflow.init
    def __init__(self, input: ClientWorkflowInput) -> None:
        c = input.carried or CarriedState()
        self._client_id = input.client_id
        self._config = input.config
        self._ledger = OrderLedger(c)
        self._profile = c.profile or ClientProfile()
        self._score = c.score
        self._next_check_at = c.next_check_at
        self._counters = c.counters or WorkflowCounters()
        self._consent = Consent(c.unsubscribed_at, c.bounced, c.paused)
        self._emails = EmailPipeline(
            input.client_id, input.config, c, self._consent, self._time_zone, self._count
        )
        self._wake = False
        self._rescore_due = c.score is None
        self._published: dict[str, object] = {
            p.key.name: p.value for p in workflow.info().typed_search_attributes
        }

    # ---- messages: record and wake the loop, nothing else -----------------------------------

    @workflow.signal(name="order_placed")
    def order_placed(self, order: OrderPlaced) -> None:
        """Queue an order unless its id was seen (duplicates and replays change nothing)."""
        if self._ledger.offer(order):
            self._wake = True

    @workflow.signal(name="profile_updated")
    def profile_updated(self, update: ProfileUpdated) -> None:
        self._profile = self._profile.model_copy(update=update.model_dump(exclude_none=True))
        self._wake = True

    @workflow.signal(name="unsubscribed")
    def unsubscribed(self, event: Unsubscribed) -> None:
        self._consent.unsubscribed_at = self._consent.unsubscribed_at or event.at
        self._consent.bounced = self._consent.bounced or event.source == "bounce"
        self._wake = True

    @workflow.signal(name="paused")
    def paused(self, _event: Paused) -> None:
        self._consent.paused = True
        self._wake = True

    @workflow.signal(name="resumed")
    def resumed(self, _event: Resumed) -> None:
        self._consent.paused = False
        self._wake = True

    @workflow.signal(name="past_email_sent")
    def past_email_sent(self, event: PastEmailSent) -> None:
        """An email sent before Rekindle (imported) counts against the frequency cap."""
        if self._emails.record_past_send(event.sent_at):
            self._wake = True

    @workflow.update(name="approve_email")
    async def approve_email(self, decision: ApproveEmail) -> EmailDecision:
        """Approve the pending draft (optionally edited); answers once the loop has acted on it."""
        return await self._decide(decision.email_id, decision)

    @approve_email.validator
    def _validate_approve(self, decision: ApproveEmail) -> None:
        self._emails.check_pending(decision.email_id)
        problems = check_edit(
            decision, self._emails.email, first_name=self._profile.first_name, config=self._config
        )
        if problems:
            raise ApplicationError("; ".join(problems), type="EditRejected", non_retryable=True)

    @workflow.update(name="reject_email")
    async def reject_email(self, decision: RejectEmail) -> EmailDecision:
        """Reject the pending draft with a reason."""
        return await self._decide(decision.email_id, decision)

    @reject_email.validator
    def _validate_reject(self, decision: RejectEmail) -> None:
        self._emails.check_pending(decision.email_id)

    @workflow.query(name="state")
    def state(self) -> ClientStateView:
        counters = self._counters.model_copy(update={"duplicate_orders": self._ledger.duplicates})
        return ClientStateView(
            client_id=self._client_id,
            order_count=self._ledger.order_count,
            first_order_at=self._ledger.first_order_at,
            last_order_at=self._ledger.last_order_at,
            pending_orders=len(self._ledger.pending),
            profile=self._profile,
            score=self._score,
            tier=self._score.tier if self._score else None,
            pending_email=self._emails.email,
            last_email=self._emails.last_email,
            next_wake_at=self._next_wake_at(),
            next_check_at=self._next_check_at,
            last_sent_at=self._emails.last_sent_at,
            draft_not_before=self._emails.draft_not_before,
            blocked_reason=self._emails.blocked_reason,
            paused=self._consent.paused,
            unsubscribed=self._consent.unsubscribed_at is not None,
            bounced=self._consent.bounced,
            holdout=self._emails.holdout,
            counters=counters,
            history_length=workflow.info().get_current_history_length(),
        )

    # ---- the main loop ----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        while True:
            self._wake = False
            await self._record_orders()
            refusal = self._consent.refusal()
            if self._emails.email is not None and refusal is not None:
                await self._emails.finish("cancelled", refusal)
            if self._rescore_due or _reached(self._next_check_at):
                await self._rescore()
            await self._emails.advance(self._score, self._ledger.last_order_at)
            self._publish_search_attributes()
            if self._history_is_long():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self._emails.decision is not None
                )
                if self._emails.decision is None:
                    workflow.continue_as_new(self._next_input())
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        # The timeout is never None: switching None <-> value between runs is non-deterministic.
        timeout = max(self._next_wake_at() - workflow.now(), MIN_SLEEP)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(self._has_work, timeout=timeout)

    def _has_work(self) -> bool:
        return self._wake or bool(self._ledger.pending) or self._history_is_long()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._config.events_per_run
        )

    def _next_wake_at(self) -> datetime:
        now = workflow.now()
        moments: list[datetime | None] = [self._next_check_at or now + FALLBACK_CHECK]
        moments += self._emails.next_wake(now, self._score.tier if self._score else None)
        wake = policy.earliest(*moments) or now + FALLBACK_CHECK
        return min(wake, now + MAX_SLEEP)

    # ---- orders and scores ------------------------------------------------------------------

    async def _record_orders(self) -> None:
        # A long storm must not outgrow the run: unrecorded orders are carried to the next one.
        while self._ledger.pending and not self._history_is_long():
            order = self._ledger.pending[0]
            result = await calls.record_order(RecordOrderInput(client_id=self._client_id, order=order))
            self._ledger.recorded(order, result.order_count)
            self._count("orders_recorded")
            self._rescore_due = True
            e = self._emails.email
            if e is not None and (e.basis_last_order_at is None or order.placed_at > e.basis_last_order_at):
                await self._emails.finish("cancelled", "client ordered")  # they came back by themselves

    async def _rescore(self) -> None:
        now = workflow.now()
        result = await calls.rescore(
            RescoreInput(client_id=self._client_id, now=now, horizon_days=self._config.horizon_days)
        )
        self._score = ScoreView(
            scored_at=now,
            **result.model_dump(include=set(ScoreView.model_fields) - {"scored_at"}),
        )
        check_at = result.next_check_at or now + FALLBACK_CHECK
        self._next_check_at = min(max(check_at, now + MIN_CHECK_DELAY), now + MAX_SLEEP)
        self._rescore_due = False
        self._count("rescores")

    # ---- helpers ----------------------------------------------------------------------------

    async def _decide(self, email_id: str, decision: ApproveEmail | RejectEmail) -> EmailDecision:
        if self._emails.offer_decision(decision):
            self._wake = True
        await workflow.wait_condition(lambda: not self._emails.is_pending(email_id))
        return self._emails.decision_result(email_id)

    def _time_zone(self) -> str:
        return self._profile.time_zone or self._config.default_time_zone

    def _count(self, name: str) -> None:
        self._counters = self._counters.model_copy(update={name: getattr(self._counters, name) + 1})

    def _publish_search_attributes(self) -> None:
        """Upsert only what changed (no personal data: search attributes are not encrypted)."""
        score, seen = self._score, self._published
        updates = [
            *_changed(seen, sa.RISK_TIER, score.tier if score else None),
            *_changed(seen, sa.ENGAGEMENT_SCORE, score.score if score else None),
            *_changed(seen, sa.LAST_ORDER_AT, self._ledger.last_order_at),
            *_changed(seen, sa.AWAITING_APPROVAL, self._emails.awaiting_approval()),
            *_changed(seen, sa.HOLDOUT_GROUP, self._emails.holdout),
        ]
        if updates:
            workflow.upsert_search_attributes(updates)

    def _next_input(self) -> ClientWorkflowInput:
        carried = CarriedState.model_validate(
            {
                **self._ledger.carry(),
                "profile": self._profile,
                "score": self._score,
                "next_check_at": self._next_check_at,
                **self._emails.carry(),
                "unsubscribed_at": self._consent.unsubscribed_at,
                "bounced": self._consent.bounced,
                "paused": self._consent.paused,
                "counters": self._counters.model_copy(update={"runs": self._counters.runs + 1}),
            }
        )
        return ClientWorkflowInput(client_id=self._client_id, config=self._config, carried=carried)


def _changed(
    published: dict[str, object],
    key: SearchAttributeKey[SearchAttributeValueType],
    value: SearchAttributeValueType | None,
) -> list[SearchAttributeUpdate[Any]]:
    if value is None or published.get(key.name) == value:
        return []
    published[key.name] = value
    return [key.value_set(value)]


def _reached(moment: datetime | None) -> bool:
    return moment is not None and workflow.now() >= moment
