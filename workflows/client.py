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
from itertools import islice
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate, SearchAttributeValueType
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import calls, summaries
from workflows.campaign import Campaign
from workflows.pipeline import Consent, EmailPipeline, error_type

with workflow.unsafe.imports_passed_through():
    from core.contracts.approval import (
        UPDATE_ERROR_GUARDRAILS,
        UPDATE_ERROR_NOT_PENDING,
        ApproveEmail,
        CancelEmail,
        EmailDecision,
        RejectEmail,
    )
    from core.contracts.consent import (
        EmailResolved,
        PastEmailSent,
        Paused,
        ProfileUpdated,
        Resubscribed,
        Resumed,
        Snoozed,
        Unsubscribed,
    )
    from core.contracts.messages import (
        CLIENT_WORKFLOW,
        IMPORT_BATCH_MAX,
        QUERY_STATE,
        SIGNAL_EMAIL_RESOLVED,
        SIGNAL_ORDER_PLACED,
        SIGNAL_ORDERS_IMPORTED,
        SIGNAL_PAST_EMAIL_SENT,
        SIGNAL_PAUSED,
        SIGNAL_PROFILE_UPDATED,
        SIGNAL_RESUBSCRIBED,
        SIGNAL_RESUMED,
        SIGNAL_SNOOZED,
        SIGNAL_UNSUBSCRIBED,
        UPDATE_APPROVE_EMAIL,
        UPDATE_CANCEL_EMAIL,
        UPDATE_REJECT_EMAIL,
        OrderPlaced,
        OrdersImported,
        RecordOrderInput,
        RecordOrdersInput,
    )
    from core.contracts.policy import SIGNAL_POLICY_CHANGED, PolicyChanged
    from core.contracts.scoring import RescoreInput
    from core.contracts.state import (
        CarriedState,
        ClientFacts,
        ClientProfile,
        ClientStateView,
        ClientWorkflowInput,
        LoadClientInput,
        ScoreView,
        WorkflowCounters,
    )
    from core.domain import policy
    from core.domain import search_attributes as sa
    from core.domain.edits import failing_verdicts
    from core.domain.guardrails import failures
    from core.domain.ledger import OrderLedger

FALLBACK_CHECK = timedelta(days=30)  # when the score names no next boundary (no orders, lapsed)
MIN_CHECK_DELAY = timedelta(hours=1)
MAX_SLEEP = timedelta(days=180)
MIN_SLEEP = timedelta(seconds=1)
# After an unexpected activity failure the loop tries again later, backing off to every 6 hours.
ATTENTION_FIRST_RETRY = timedelta(minutes=5)
ATTENTION_MAX_RETRY = timedelta(hours=6)
# Since this patch, several pending orders are recorded by one record_orders activity.
BATCH_RECORD_PATCH = "record-orders-in-batches"


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
        self._consent = Consent(c.unsubscribed_at, c.bounced, c.paused, c.paused_until)
        self._pause_heard = False  # a paused/resumed signal in this run outranks the database
        self._campaign = Campaign(input.client_id, input.config, c.policy, c.model_version, c.episode)
        self._emails = EmailPipeline(
            input.client_id, input.config, c, self._consent, self._time_zone, self._count, self._campaign
        )
        self._wake = False
        self._cancel: CancelEmail | None = None
        self._rescore_due = c.score is None
        # A run without carried state (first start, terminate, reset) reads the database first.
        self._facts_due = input.carried is None
        self._attention_at = c.attention_at
        self._attention_failures = c.attention_failures
        self._published: dict[str, object] = {
            p.key.name: p.value for p in workflow.info().typed_search_attributes
        }

    # ---- messages: record and wake the loop, nothing else -----------------------------------

    @workflow.signal(name=SIGNAL_ORDER_PLACED)
    def order_placed(self, order: OrderPlaced) -> None:
        """Queue an order unless its id was seen (duplicates and replays change nothing)."""
        if self._ledger.offer(order):
            self._wake = True

    @workflow.signal(name=SIGNAL_ORDERS_IMPORTED)
    def orders_imported(self, batch: OrdersImported) -> None:
        """A client's imported history: queued like single orders, recorded together."""
        for order in batch.orders:
            if self._ledger.offer(order):
                self._wake = True

    @workflow.signal(name=SIGNAL_PROFILE_UPDATED)
    def profile_updated(self, update: ProfileUpdated) -> None:
        self._profile = self._profile.model_copy(update=update.model_dump(exclude_none=True))
        if update.email:
            self._emails.address_arrived()
        self._wake = True

    @workflow.signal(name=SIGNAL_UNSUBSCRIBED)
    def unsubscribed(self, event: Unsubscribed) -> None:
        self._consent.unsubscribed_at = self._consent.unsubscribed_at or event.at
        self._consent.bounced = self._consent.bounced or event.source == "bounce"
        self._wake = True

    @workflow.signal(name=SIGNAL_PAUSED)
    def paused(self, _event: Paused) -> None:
        self._consent.paused = self._pause_heard = True
        self._wake = True

    @workflow.signal(name=SIGNAL_RESUMED)
    def resumed(self, _event: Resumed) -> None:
        self._consent.paused, self._pause_heard = False, True
        self._wake = True

    @workflow.signal(name=SIGNAL_EMAIL_RESOLVED)
    def email_resolved(self, event: EmailResolved) -> None:
        self._emails.resolved(event)

    @workflow.signal(name=SIGNAL_SNOOZED)
    def snoozed(self, event: Snoozed) -> None:
        """A break the client chose: the latest request wins (a shorter one shortens it)."""
        self._consent.paused_until = event.until
        self._wake = True

    @workflow.signal(name=SIGNAL_RESUBSCRIBED)
    def resubscribed(self, event: Resubscribed) -> None:
        """Consent again, unless the opt-out came after this request (signals may cross)."""
        opted_out = self._consent.unsubscribed_at
        if opted_out is not None and opted_out <= event.at:
            self._consent.unsubscribed_at = None
        self._consent.paused_until = None
        self._wake = True

    @workflow.signal(name=SIGNAL_PAST_EMAIL_SENT)
    def past_email_sent(self, event: PastEmailSent) -> None:
        """An email sent before Rekindle (imported) counts against the frequency cap."""
        if self._emails.record_past_send(event.sent_at):
            self._wake = True

    @workflow.signal(name=SIGNAL_POLICY_CHANGED)
    def policy_changed(self, signal: PolicyChanged) -> None:
        """A newer policy (or model) version: decide with it from now on, re-plan the timers."""
        if self._campaign.offer(signal):
            self._emails.replan = True
            self._wake = True

    @workflow.update(name=UPDATE_APPROVE_EMAIL)
    async def approve_email(self, decision: ApproveEmail) -> EmailDecision:
        """Approve the pending draft (optionally edited); answers once the loop has acted on it."""
        return await self._decide(decision.email_id, decision)

    @approve_email.validator
    def _validate_approve(self, decision: ApproveEmail) -> None:
        self._emails.check_pending(decision.email_id)
        failing = failing_verdicts(
            decision,
            self._emails.email,
            first_name=self._profile.first_name,
            config=self._emails.config,
            locale=self._profile.locale,
        )
        if failing:
            # details[0]: the failing verdicts, which the API turns into a field-level 422.
            raise ApplicationError(
                "; ".join(failures(failing)),
                [v.model_dump() for v in failing],
                type=UPDATE_ERROR_GUARDRAILS,
                non_retryable=True,
            )

    @workflow.update(name=UPDATE_REJECT_EMAIL)
    async def reject_email(self, decision: RejectEmail) -> EmailDecision:
        """Reject the pending draft with a reason."""
        return await self._decide(decision.email_id, decision)

    @reject_email.validator
    def _validate_reject(self, decision: RejectEmail) -> None:
        self._emails.check_pending(decision.email_id)

    @workflow.update(name=UPDATE_CANCEL_EMAIL)
    async def cancel_email(self, request: CancelEmail) -> EmailDecision:
        """Cancel the email in flight; answers its status once the loop has acted (``sent`` if it
        went out first)."""
        self._cancel = request
        self._wake = True
        await workflow.wait_condition(lambda: not self._in_flight(request.email_id))
        return self._emails.decision_result(request.email_id)

    @cancel_email.validator
    def _validate_cancel(self, request: CancelEmail) -> None:
        # A send that is due may already be talking to SMTP: only a future one can be stopped.
        e = self._emails.email
        due = e is not None and e.status == "approved" and not _after(e.scheduled_for, workflow.now())
        if not self._in_flight(request.email_id) or due:
            raise ApplicationError("not cancellable", type=UPDATE_ERROR_NOT_PENDING, non_retryable=True)

    @workflow.query(name=QUERY_STATE)
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
            paused_until=self._consent.paused_until,
            unsubscribed=self._consent.unsubscribed_at is not None,
            bounced=self._consent.bounced,
            holdout=self._emails.holdout,
            counters=counters,
            history_length=workflow.info().get_current_history_length(),
            needs_attention=self._attention_failures > 0,
            attention_at=self._attention_at,
            policy_version=self._campaign.version,
            model_version=self._campaign.follower.model_version if self._campaign.version else None,
            episode=self._campaign.episode,
        )

    # ---- the main loop ----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        while True:
            self._wake = False
            try:
                await self._pass()
            except ActivityError as err:  # never fail the client's run: flag, back off, try again
                self._needs_attention(err)
            else:
                self._attention_at, self._attention_failures = None, 0
            self._publish_search_attributes()
            if self._history_is_long():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self._has_decision()
                )
                if not self._has_decision():
                    workflow.continue_as_new(self._next_input())
                continue
            await self._sleep()

    async def _pass(self) -> None:
        if self._facts_due:
            await self._load_facts()
        await self._campaign.load()
        if self._campaign.follower.take_model_change():
            self._rescore_due = True  # a refit stored a newer model: its boundaries, not the old ones
        await self._record_orders()
        refusal = self._consent.refusal()
        if refusal is not None:
            self._campaign.end_episode()
        if self._emails.email is not None and refusal is not None:
            await self._emails.finish("cancelled", refusal)
        if self._cancel is not None:
            await self._apply_cancel()
        if self._rescore_due or _reached(self._next_check_at):
            await self._rescore()
        await self._emails.advance(self._score, self._ledger.last_order_at)

    def _needs_attention(self, err: ActivityError) -> None:
        """Count and log (types only: messages may quote a client), then retry on a later wake.

        State is intact: every step changes the workflow's state only after its activity
        succeeded, so the next pass takes the same step again.
        """
        self._attention_failures += 1
        delay = min(ATTENTION_FIRST_RETRY * 2 ** min(self._attention_failures - 1, 8), ATTENTION_MAX_RETRY)
        self._attention_at = workflow.now() + delay
        self._count("activity_failures")
        kind = error_type(err)
        workflow.metric_meter().create_counter(
            "rekindle_workflow_activity_failures", "Unexpected activity failures caught by a client workflow"
        ).add(1, {"activity": err.activity_type or "unknown", "error_type": kind})
        workflow.logger.warning(
            "activity failed; the client needs attention and is retried later",
            extra={"activity": err.activity_type, "error_type": kind, "retry_in_s": delay.total_seconds()},
        )

    async def _load_facts(self) -> None:
        # Histories recorded before this step existed must replay without it.
        if workflow.patched("client-facts-on-fresh-run"):
            facts = await calls.load_client_facts(
                LoadClientInput(
                    client_id=self._client_id, approval_expiry_hours=self._config.approval_expiry_hours
                )
            )
            self._adopt(facts)
        self._facts_due = False

    def _adopt(self, facts: ClientFacts) -> None:
        """Merge the database's facts under what this run has heard already (signals win)."""
        if facts.profile is not None:
            self._profile = facts.profile.model_copy(update=self._profile.model_dump(exclude_none=True))
        self._ledger.adopt(facts.order_count, facts.first_order_at, facts.last_order_at)
        self._consent.unsubscribed_at = self._consent.unsubscribed_at or facts.unsubscribed_at
        self._consent.bounced = self._consent.bounced or facts.bounced
        if self._consent.paused_until is None:
            self._consent.paused_until = facts.paused_until
        if facts.paused and not self._pause_heard:  # held by ops (older histories: always False)
            self._consent.paused = True
        self._emails.adopt(facts)

    async def _sleep(self) -> None:
        # The timeout is never None: switching None <-> value between runs is non-deterministic.
        wake = self._next_wake_at()
        timeout = max(wake - workflow.now(), MIN_SLEEP)
        summary = self._explain(wake)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(self._has_work, timeout=timeout, timeout_summary=summary)

    def _explain(self, wake: datetime) -> str:
        """Tell the Web UI why we sleep and where the client stands; the timer's summary."""
        e = self._emails
        reason = summaries.wake_reason(wake, self._next_check_at, e.email, e.retry_at, e.draft_not_before)
        details = summaries.current_details(
            self._score, reason, wake, e.email, e.last_email, e.blocked_reason
        )
        workflow.set_current_details(details)
        return summaries.timer_summary(reason, wake)

    def _has_work(self) -> bool:
        # Orders still queued behind a failing activity wait for the back-off, not spin.
        queued = bool(self._ledger.pending) and not self._attention_failures
        return self._wake or queued or self._history_is_long()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._config.events_per_run
        )

    def _next_wake_at(self) -> datetime:
        now = workflow.now()
        if self._attention_at is not None:  # a failing step's moment has passed: back off, don't spin
            return max(self._attention_at, now)
        moments: list[datetime | None] = [self._next_check_at or now + FALLBACK_CHECK]
        moments += self._emails.next_wake(now, self._score.tier if self._score else None)
        wake = policy.earliest(*moments) or now + FALLBACK_CHECK
        return min(wake, now + MAX_SLEEP)

    # ---- orders and scores ------------------------------------------------------------------

    async def _record_orders(self) -> None:
        # A long storm must not outgrow the run: unrecorded orders are carried to the next one,
        # but only as many as fit in one payload (the rest are recorded here first).
        ledger = self._ledger
        while ledger.pending and (not self._history_is_long() or ledger.over_carry_budget()):
            # Several pending (an imported history, a storm): one activity for all of them.
            # Histories recorded before batches existed replay one record_order per order.
            if len(ledger.pending) > 1 and workflow.patched(BATCH_RECORD_PATCH):
                batch = list(islice(ledger.pending, IMPORT_BATCH_MAX))
                result = await calls.record_orders(RecordOrdersInput(client_id=self._client_id, orders=batch))
                count: int | None = None
                for i, order in enumerate(batch):
                    count = result.order_count if i == len(batch) - 1 else None
                    ledger.recorded(order, count)
                    self._count("orders_recorded")
            else:
                batch = [ledger.pending[0]]
                single = await calls.record_order(RecordOrderInput(client_id=self._client_id, order=batch[0]))
                ledger.recorded(batch[0], single.order_count)
                self._count("orders_recorded")
            self._rescore_due = True
            self._campaign.end_episode()  # an order ends the win-back sequence
            newest = max(order.placed_at for order in batch)
            e = self._emails.email
            if e is not None and (e.basis_last_order_at is None or newest > e.basis_last_order_at):
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

    def _has_decision(self) -> bool:
        """A decision or cancellation the loop must act on before continuing as new."""
        return self._emails.decision is not None or self._cancel is not None

    def _in_flight(self, email_id: str) -> bool:
        return self._emails.email is not None and self._emails.email.email_id == email_id

    async def _apply_cancel(self) -> None:
        request, self._cancel = self._cancel, None
        if request is not None and self._in_flight(request.email_id):
            await self._emails.finish("cancelled", request.reason, actor=request.cancelled_by)

    async def _decide(self, email_id: str, decision: ApproveEmail | RejectEmail) -> EmailDecision:
        emails = self._emails
        offered = emails.offer_decision(decision)
        self._wake = self._wake or offered
        # Answered once the email moved on, or once the database refused this decision.
        await workflow.wait_condition(
            lambda: not emails.is_pending(email_id) or (offered and emails.decision is not decision)
        )
        return emails.decision_result(email_id)

    def _time_zone(self) -> str:
        return self._profile.time_zone or self._config.default_time_zone

    def _count(self, name: str) -> None:
        self._counters = self._counters.model_copy(update={name: getattr(self._counters, name) + 1})

    def _publish_search_attributes(self) -> None:
        """Upsert only what changed (no personal data: search attributes are not encrypted)."""
        score, seen = self._score, self._published
        attention = self._attention_failures > 0
        updates = [
            *_changed(seen, sa.RISK_TIER, score.tier if score else None),
            *_changed(seen, sa.ENGAGEMENT_SCORE, score.score if score else None),
            *_changed(seen, sa.LAST_ORDER_AT, self._ledger.last_order_at),
            *_changed(seen, sa.AWAITING_APPROVAL, self._emails.awaiting_approval()),
            *_changed(seen, sa.HOLDOUT_GROUP, self._emails.holdout),
            # Set while an activity keeps failing; cleared once it passes (only if ever set).
            *_changed(
                seen, sa.NEEDS_ATTENTION, attention if attention or sa.NEEDS_ATTENTION.name in seen else None
            ),
            *self._version_attributes(),
        ]
        if updates:
            workflow.upsert_search_attributes(updates)

    def _version_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        """``PolicyVersion``/``ModelVersion`` once this run holds a policy (ops watch rollouts)."""
        version = self._campaign.version
        if version is None:
            return []
        model = self._campaign.follower.model_version
        return [
            *_changed(self._published, sa.POLICY_VERSION, version),
            *_changed(self._published, sa.MODEL_VERSION, model),
        ]

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
                "paused_until": self._consent.paused_until,
                "counters": self._counters.model_copy(update={"runs": self._counters.runs + 1}),
                "attention_at": self._attention_at,
                "attention_failures": self._attention_failures,
                "policy": self._campaign.follower.live,
                "model_version": self._campaign.follower.model_version,
                "episode": self._campaign.episode,
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


def _after(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment > now


def _reached(moment: datetime | None) -> bool:
    return moment is not None and workflow.now() >= moment
