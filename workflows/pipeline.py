"""The email pipeline of one client workflow: draft -> decision -> gate -> send window -> send.

Runs inside the client workflow (deterministic: ``workflow.now()``, ``workflow.uuid4()``,
activities for every side effect). One email is in flight at a time; every status
change is written through the ``update_email`` activity so the database timeline
is complete. The policy gate is asked at draft, at approval and right before
sending; "not now" moves the email to the next allowed moment, never drops it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import calls
from workflows.campaign import Campaign

with workflow.unsafe.imports_passed_through():
    from core.contracts.approval import UPDATE_ERROR_NOT_PENDING, ApproveEmail, EmailDecision, RejectEmail
    from core.contracts.consent import EmailResolved
    from core.contracts.emails import DraftEmailInput, EmailStatus, SendEmailInput, UpdateEmailResult
    from core.contracts.state import (
        CarriedState,
        ClientFacts,
        EmailOutcome,
        PendingEmail,
        ScoreView,
        WorkflowConfig,
    )
    from core.domain import policy

DRAFT_FAILED_RETRY = timedelta(days=1)
# A send that provably reached no SMTP server waits and tries again, longer each time, for as
# long as the outage lasts: 5 min, 10 min, ... then hourly.
SEND_DEFER_FIRST = timedelta(minutes=5)
SEND_DEFER_MAX = timedelta(hours=1)
# send_email's own refusals that are not an outage: the row is not (or no longer) sendable.
SEND_REFUSALS = frozenset({"EmailNotFound", "EmailNotApproved", "BadMessage"})
AUTO_APPROVER = "policy:auto-approve"
NO_ADDRESS = "no_email_address"
OUTCOME_COUNTER = {
    "sent": "sent",
    "holdout": "would_have_sent",
    "rejected": "rejected",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "failed",
    "unknown": "failed",
}
CLOSED: frozenset[EmailStatus] = frozenset(
    {"sent", "rejected", "expired", "failed", "unknown", "holdout", "cancelled"}
)


@dataclass
class Consent:
    """What the client told us (or their mail server did), shared with the workflow's handlers."""

    unsubscribed_at: datetime | None = None
    bounced: bool = False
    paused: bool = False
    paused_until: datetime | None = None

    def refusal(self) -> str | None:
        if self.bounced:
            return "bounced"
        return "unsubscribed" if self.unsubscribed_at is not None else None


class EmailPipeline:
    """The email in flight, the last outcome, and the sending record the gate counts."""

    def __init__(
        self,
        client_id: str,
        config: WorkflowConfig,
        carried: CarriedState,
        consent: Consent,
        time_zone: Callable[[], str],
        count: Callable[[str], None],
        campaign: Campaign | None = None,
    ) -> None:
        self.client_id = client_id
        self.campaign = campaign or Campaign(client_id, config)
        self.tier: str | None = None
        # Set when a new policy version arrived: a scheduled send is re-planned at once.
        self.replan = False
        self.holdout = policy.in_holdout(client_id, config.holdout_fraction)
        self.consent = consent
        self.email = carried.email
        self.last_email = carried.last_email
        self.last_sent_at = carried.last_sent_at
        self.draft_not_before = carried.draft_not_before
        self.decision: ApproveEmail | RejectEmail | None = None
        # Why the last decision was refused by the database (the draft stays pending).
        self.refused: tuple[str, str] | None = None
        self.retry_at = carried.retry_at
        self._expected_value: float | None = None
        self.blocked_reason = carried.blocked_reason
        self._time_zone = time_zone
        self._count = count

    @property
    def config(self) -> WorkflowConfig:
        """The live policy for this client's tier, over the config the run started with."""
        return self.campaign.config(self.tier)

    # ---- what the workflow asks -------------------------------------------------------------

    def awaiting_approval(self) -> bool:
        return self.email is not None and self.email.status == "pending_approval"

    def is_pending(self, email_id: str) -> bool:
        e = self.email
        return e is not None and e.email_id == email_id and e.status == "pending_approval"

    def check_pending(self, email_id: str) -> None:
        """For Update validators: refuse before anything is written to history."""
        if not self.is_pending(email_id) or self.decision is not None:
            raise ApplicationError("not the pending draft", type=UPDATE_ERROR_NOT_PENDING, non_retryable=True)
        if self.consent.refusal() is not None:
            raise ApplicationError(
                "the client cannot be emailed", type=UPDATE_ERROR_NOT_PENDING, non_retryable=True
            )

    def record_past_send(self, sent_at: datetime) -> bool:
        """Move the last send forward to ``sent_at`` (never back); ``True`` if it moved."""
        if self.last_sent_at is not None and sent_at <= self.last_sent_at:
            return False
        self.last_sent_at = sent_at
        return True

    def offer_decision(self, decision: ApproveEmail | RejectEmail) -> bool:
        if self.decision is None and self.is_pending(decision.email_id):
            self.decision, self.refused = decision, None
            return True
        return False

    def decision_result(self, email_id: str) -> EmailDecision:
        e, last = self.email, self.last_email
        if e is not None and e.email_id == email_id:
            reason = self.refused[1] if self.refused and self.refused[0] == email_id else None
            return EmailDecision(
                email_id=email_id, status=e.status, scheduled_for=e.scheduled_for, reason=reason
            )
        status = last.status if last is not None and last.email_id == email_id else "unknown"
        return EmailDecision(email_id=email_id, status=status)

    def next_wake(self, now: datetime, tier: str | None) -> list[datetime | None]:
        """The moments this pipeline must be looked at again."""
        e = self.email
        if e is not None:
            return [self.campaign.deadline(e) if e.status == "pending_approval" else e.scheduled_for]
        if not self.campaign.may_draft(tier, self._expected_value):
            return []
        cool_down = self.draft_not_before if _after(self.draft_not_before, now) else None
        return [self.retry_at, cool_down]

    def resolved(self, event: EmailResolved) -> None:
        """An ``unknown`` last email settled by a person: record what the database now says."""
        last = self.last_email
        if last is not None and last.email_id == event.email_id and last.status == "unknown":
            reason = f"resolved as {'sent' if event.status == 'sent' else 'not sent'} by {event.by}"
            self.last_email = last.model_copy(update={"status": event.status, "reason": reason})

    def address_arrived(self) -> None:
        """A profile with an address: a draft waiting for one may go ahead now."""
        if self.blocked_reason == NO_ADDRESS:
            self.retry_at = self.blocked_reason = None

    def adopt(self, facts: ClientFacts) -> None:
        """Resume from the database: its last send, its email in flight, its last outcome."""
        if facts.last_sent_at is not None:
            self.record_past_send(facts.last_sent_at)
        if self.email is None:
            self.email = facts.email
        last = facts.last_email
        if self.last_email is None and last is not None:
            self.last_email = last
            cool_down = last.at + timedelta(days=self.config.cool_down_days)
            if self.draft_not_before is None or cool_down > self.draft_not_before:
                self.draft_not_before = cool_down
        self.holdout = self.holdout or facts.holdout

    def carry(self) -> dict[str, object]:
        return {
            "email": self.email,
            "last_email": self.last_email,
            "last_sent_at": self.last_sent_at,
            "draft_not_before": self.draft_not_before,
            "retry_at": self.retry_at,
            "blocked_reason": self.blocked_reason,
        }

    # ---- steps ------------------------------------------------------------------------------

    async def advance(self, score: ScoreView | None, basis_last_order_at: datetime | None) -> None:
        """Take every step that is due now (approving inside the send window sends at once)."""
        self.tier = score.tier if score else None
        self._expected_value = score.expected_value if score else None
        replan, self.replan = self.replan, False
        for _ in range(4):
            now = workflow.now()
            e = self.email
            if e is None:
                progressed = await self._maybe_draft(now, score, basis_last_order_at)
            elif e.status == "pending_approval":
                progressed = await self._settle_approval(e, now)
            elif e.scheduled_for is None or now >= e.scheduled_for or replan:
                replan = False
                progressed = await self._try_send(e, now)
            else:
                progressed = False
            if not progressed:
                return

    async def _maybe_draft(self, now: datetime, score: ScoreView | None, basis: datetime | None) -> bool:
        if score is None or not self.campaign.may_draft(score.tier, score.expected_value):
            self.retry_at = self.blocked_reason = None
            return False
        if _after(self.draft_not_before, now) or _after(self.retry_at, now):
            return False
        gate = self._gate(now, "draft")
        if not gate.allowed:
            self.blocked_reason, self.retry_at = gate.reason, gate.not_before
            return False
        return await self._draft(now, score, basis)

    async def _draft(self, now: datetime, score: ScoreView, basis: datetime | None) -> bool:
        email_id = str(workflow.uuid4())
        request = DraftEmailInput(
            email_id=email_id,
            client_id=self.client_id,
            tier=score.tier,
            segment=score.segment,
            reasons=score.reasons,
            created_at=now,
            **self.campaign.draft_fields(score.tier),
        )
        try:
            draft = await calls.draft_email(request, self.config.llm_task_queue, holdout=self.holdout)
        except ActivityError as err:
            # No address: wait (a profile with one clears the wait); else the provider failed.
            kind = error_type(err)
            blocked = NO_ADDRESS if kind == "NoEmailAddress" else "draft_failed"
            # Waiting for an address is a client's state, not a fault: logged at info.
            waiting = blocked == NO_ADDRESS
            (workflow.logger.info if waiting else workflow.logger.warning)(
                "no email address; waiting for one" if waiting else "drafting failed; retrying later",
                extra={"email_id": email_id, "reason": blocked, "error_type": kind},
            )
            if blocked != NO_ADDRESS:  # the provider or the drafter failed: count it, alert on the rate
                self._count("draft_failures")
                workflow.metric_meter().create_counter(
                    "rekindle_workflow_draft_failures", "Drafts that failed after the activity's retries"
                ).add(1, {"error_type": kind})
            self.blocked_reason, self.retry_at = blocked, now + DRAFT_FAILED_RETRY
            return False
        self.email = PendingEmail(
            email_id=email_id,
            status="pending_approval",
            created_at=now,
            expires_at=now + timedelta(hours=self.config.approval_expiry_hours),
            holdout=self.holdout,
            subject=draft.subject,
            preheader=draft.preheader,
            body_text=draft.body_text,
            basis_last_order_at=basis,
        )
        result = await calls.update_email(email_id, self.client_id, "pending_approval", now)
        if not result.applied:  # decided meanwhile (a tombstone): never resurrect it
            self.email = None
            self.blocked_reason, self.retry_at = "draft_conflict", now + DRAFT_FAILED_RETRY
            return False
        self.retry_at = self.blocked_reason = None
        self._count("drafts")
        return True

    async def _settle_approval(self, e: PendingEmail, now: datetime) -> bool:
        decision = self.decision
        if isinstance(decision, RejectEmail):
            await self.finish("rejected", decision.reason, actor=decision.rejected_by)
        elif isinstance(decision, ApproveEmail):
            await self._approve(e, now, decision.approved_by, decision)
        elif self.config.auto_approve:
            await self._approve(e, now, AUTO_APPROVER, None)
        elif now >= self.campaign.deadline(e):
            await self.finish("expired", "no decision before the deadline")
        else:
            return False
        return True

    async def _approve(self, e: PendingEmail, now: datetime, actor: str, edit: ApproveEmail | None) -> None:
        gate = self._gate(now, "approval")
        if gate.final:
            await self.finish("cancelled", gate.reason)
            return
        scheduled = now if gate.allowed else gate.not_before
        edits = (
            edit.model_dump(include={"subject", "preheader", "body_text"}, exclude_none=True) if edit else {}
        )
        waiting = None if gate.allowed else f"waiting: {gate.reason}"
        result = await calls.update_email(
            e.email_id, self.client_id, "approved", now, actor=actor, scheduled_for=scheduled,
            reason=waiting, **edits,
        )  # fmt: skip
        if not result.applied:
            self._refuse(e, result)
            return
        shown = {k: v for k, v in edits.items() if k in {"subject", "preheader"}}
        self.email = e.model_copy(
            update={"status": "approved", "approved_by": actor, "approved_at": now,
                    "scheduled_for": scheduled, **shown}
        )  # fmt: skip
        self.decision = None

    def _refuse(self, e: PendingEmail, result: UpdateEmailResult) -> None:
        """The database did not take the approval: keep the draft pending (an edit it refused),
        or follow the database where the email already is."""
        self.decision = None
        if result.status == "pending_approval":
            self.refused = (e.email_id, result.reason or "refused")
        else:
            self._close(e, _closed(result.status), result.reason, workflow.now())

    async def _try_send(self, e: PendingEmail, now: datetime) -> bool:
        gate = self._gate(now, "send")
        if gate.final:
            await self.finish("cancelled", gate.reason)
            return True
        if not gate.allowed:
            if gate.not_before != e.scheduled_for:  # "not now" moves the send, never drops it
                self.email = e.model_copy(update={"scheduled_for": gate.not_before})
                self._count("reschedules")
                await calls.update_email(
                    e.email_id, self.client_id, "approved", now,
                    scheduled_for=gate.not_before, reason=f"rescheduled: {gate.reason}",
                )  # fmt: skip
            return False
        if e.holdout:
            self.last_sent_at = now  # the control group keeps the treated group's cadence
            await self.finish("holdout", "would have sent")
            return False
        await self._send(e, now)
        return False

    async def _send(self, e: PendingEmail, now: datetime) -> None:
        request = SendEmailInput(email_id=e.email_id, client_id=self.client_id)
        try:
            result = await calls.send_email(request, self.config.send_task_queue)
        except ActivityError as err:
            await self._send_failed(e, now, err)
            return
        status: EmailStatus = "cancelled"
        reason = result.detail or None
        if result.outcome in ("sent", "unknown"):
            self.last_sent_at = now
            status = "sent" if result.outcome == "sent" else "unknown"
        elif result.outcome == "failed":
            self.consent.bounced = True
            status, reason = "failed", reason or "permanent rejection"
        elif result.outcome == "cancelled":
            pass  # nothing sent and nobody refused it (no address on file): consent unchanged
        else:
            self.consent.unsubscribed_at = self.consent.unsubscribed_at or now
            reason = "address suppressed"
        await self.finish(status, reason)

    async def _send_failed(self, e: PendingEmail, now: datetime, err: ActivityError) -> None:
        """The send activity gave up. The ledger (the row) decides what that means."""
        if not workflow.patched("send-outage-defers"):
            self.last_sent_at = now  # it may have gone out: the frequency cap counts it
            await self.finish("unknown", "send did not complete; not resent")
            return
        kind = error_type(err)
        if kind in SEND_REFUSALS:
            await self.finish("cancelled", f"not sendable: {kind}")
            return
        # Anything else (SMTP refused or down, auth or config wrong, timed out): a row still
        # 'approved' provably went nowhere and is sent later; a row left 'sending' is found
        # by that next attempt and settled as unknown, never resent.
        delay = min(SEND_DEFER_FIRST * 2 ** min(e.send_attempts, 8), SEND_DEFER_MAX)
        later = now + delay
        self.email = e.model_copy(update={"scheduled_for": later, "send_attempts": e.send_attempts + 1})
        self._count("send_deferrals")
        workflow.logger.warning(
            "send not delivered; retrying later",
            extra={"email_id": e.email_id, "error_type": kind, "retry_in_s": delay.total_seconds()},
        )
        await calls.update_email(
            e.email_id, self.client_id, "approved", now,
            scheduled_for=later, reason=f"rescheduled: not delivered ({kind})",
        )  # fmt: skip

    async def finish(self, status: EmailStatus, reason: str | None, actor: str | None = None) -> None:
        """Close the email in flight with ``status``, then cool down before the next draft.

        Should the database hold the email elsewhere already (a send overtook a cancel), the
        workflow records what the database says, so both tell the same story.
        """
        e = self.email
        assert e is not None
        now = workflow.now()
        result = await calls.update_email(e.email_id, self.client_id, status, now, actor=actor, reason=reason)
        if not result.applied and result.status in CLOSED and result.status != status:
            status, reason = _closed(result.status), result.reason
        self._close(e, status, reason, now)

    def _close(self, e: PendingEmail, status: EmailStatus, reason: str | None, now: datetime) -> None:
        self.last_email = EmailOutcome(email_id=e.email_id, status=status, at=now, reason=reason)
        self.email = self.decision = None
        self.draft_not_before = self.campaign.closed(status, e.email_id, now, self.config.cool_down_days)
        self._count(OUTCOME_COUNTER.get(status, "cancelled"))

    def _gate(self, now: datetime, stage: policy.Stage) -> policy.GateDecision:
        ctx = policy.GateContext(
            unsubscribed=self.consent.unsubscribed_at is not None,
            bounced=self.consent.bounced,
            paused=self.consent.paused,
            paused_until=self.consent.paused_until,
            last_sent_at=self.campaign.cap_basis(self.last_sent_at),
            frequency_cap_days=self.config.frequency_cap_days,
            time_zone=self._time_zone(),
            quiet_hours_start=self.config.quiet_hours_start,
            quiet_hours_end=self.config.quiet_hours_end,
        )
        return policy.check_gate(ctx, now, stage)


def error_type(err: ActivityError) -> str:
    """The failure's type for counting and logging (never its message: it may quote a client)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type
    return type(cause).__name__ if cause is not None else type(err).__name__


def _closed(status: EmailStatus | None) -> EmailStatus:
    return status if status is not None and status in CLOSED else "cancelled"


def _after(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment > now
