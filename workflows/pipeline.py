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

with workflow.unsafe.imports_passed_through():
    from core import policy
    from core.contracts import (
        ApproveEmail,
        CarriedState,
        DraftEmailInput,
        EmailDecision,
        EmailOutcome,
        EmailStatus,
        PendingEmail,
        RejectEmail,
        ScoreView,
        SendEmailInput,
        WorkflowConfig,
    )

DRAFT_FAILED_RETRY = timedelta(days=1)
AUTO_APPROVER = "policy:auto-approve"
OUTCOME_COUNTER = {
    "sent": "sent",
    "holdout": "would_have_sent",
    "rejected": "rejected",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "failed",
    "unknown": "failed",
}


@dataclass
class Consent:
    """What the client told us (or their mail server did), shared with the workflow's handlers."""

    unsubscribed_at: datetime | None = None
    bounced: bool = False
    paused: bool = False

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
    ) -> None:
        self.client_id = client_id
        self.config = config
        self.holdout = policy.in_holdout(client_id, config.holdout_fraction)
        self.consent = consent
        self.email = carried.email
        self.last_email = carried.last_email
        self.last_sent_at = carried.last_sent_at
        self.draft_not_before = carried.draft_not_before
        self.decision: ApproveEmail | RejectEmail | None = None
        self.retry_at: datetime | None = None
        self.blocked_reason: str | None = None
        self._time_zone = time_zone
        self._count = count

    # ---- what the workflow asks -------------------------------------------------------------

    def awaiting_approval(self) -> bool:
        return self.email is not None and self.email.status == "pending_approval"

    def is_pending(self, email_id: str) -> bool:
        e = self.email
        return e is not None and e.email_id == email_id and e.status == "pending_approval"

    def check_pending(self, email_id: str) -> None:
        """For Update validators: refuse before anything is written to history."""
        if not self.is_pending(email_id) or self.decision is not None:
            raise ApplicationError("not the pending draft", type="EmailNotPending", non_retryable=True)
        if self.consent.refusal() is not None:
            raise ApplicationError("the client cannot be emailed", type="EmailNotPending", non_retryable=True)

    def record_past_send(self, sent_at: datetime) -> bool:
        """Move the last send forward to ``sent_at`` (never back); ``True`` if it moved."""
        if self.last_sent_at is not None and sent_at <= self.last_sent_at:
            return False
        self.last_sent_at = sent_at
        return True

    def offer_decision(self, decision: ApproveEmail | RejectEmail) -> bool:
        if self.decision is None and self.is_pending(decision.email_id):
            self.decision = decision
            return True
        return False

    def decision_result(self, email_id: str) -> EmailDecision:
        e, last = self.email, self.last_email
        if e is not None and e.email_id == email_id:
            return EmailDecision(email_id=email_id, status=e.status, scheduled_for=e.scheduled_for)
        status = last.status if last is not None and last.email_id == email_id else "unknown"
        return EmailDecision(email_id=email_id, status=status)

    def next_wake(self, now: datetime, tier: str | None) -> list[datetime | None]:
        """The moments this pipeline must be looked at again."""
        e = self.email
        if e is not None:
            return [e.expires_at if e.status == "pending_approval" else e.scheduled_for]
        if tier != "at_risk":
            return []
        cool_down = self.draft_not_before if _after(self.draft_not_before, now) else None
        return [self.retry_at, cool_down]

    def carry(self) -> dict[str, object]:
        return {
            "email": self.email,
            "last_email": self.last_email,
            "last_sent_at": self.last_sent_at,
            "draft_not_before": self.draft_not_before,
        }

    # ---- steps ------------------------------------------------------------------------------

    async def advance(self, score: ScoreView | None, basis_last_order_at: datetime | None) -> None:
        """Take every step that is due now (approving inside the send window sends at once)."""
        for _ in range(4):
            now = workflow.now()
            e = self.email
            if e is None:
                progressed = await self._maybe_draft(now, score, basis_last_order_at)
            elif e.status == "pending_approval":
                progressed = await self._settle_approval(e, now)
            elif e.scheduled_for is None or now >= e.scheduled_for:
                progressed = await self._try_send(e, now)
            else:
                progressed = False
            if not progressed:
                return

    async def _maybe_draft(self, now: datetime, score: ScoreView | None, basis: datetime | None) -> bool:
        if score is None or score.tier != "at_risk":
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
            holdout=self.holdout,
        )
        try:
            draft = await calls.draft_email(request, self.config.llm_task_queue)
        except ActivityError:
            workflow.logger.warning("drafting failed; retrying later", extra={"email_id": email_id})
            self.blocked_reason, self.retry_at = "draft_failed", now + DRAFT_FAILED_RETRY
            return False
        await calls.update_email(email_id, self.client_id, "pending_approval", now)
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
        elif now >= e.expires_at:
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
        await calls.update_email(
            e.email_id, self.client_id, "approved", now, actor=actor, scheduled_for=scheduled,
            reason=waiting, **edits,
        )  # fmt: skip
        shown = {k: v for k, v in edits.items() if k in {"subject", "preheader"}}
        self.email = e.model_copy(
            update={"status": "approved", "approved_by": actor, "approved_at": now,
                    "scheduled_for": scheduled, **shown}
        )  # fmt: skip
        self.decision = None

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
        except ActivityError:
            self.last_sent_at = now  # it may have gone out: the frequency cap counts it
            await self.finish("unknown", "send did not complete; not resent")
            return
        status: EmailStatus = "cancelled"
        reason = result.detail or None
        if result.outcome in ("sent", "unknown"):
            self.last_sent_at = now
            status = "sent" if result.outcome == "sent" else "unknown"
        elif result.outcome == "failed":
            self.consent.bounced = True
            status, reason = "failed", reason or "permanent rejection"
        else:
            self.consent.unsubscribed_at = self.consent.unsubscribed_at or now
            reason = "address suppressed"
        await self.finish(status, reason)

    async def finish(self, status: EmailStatus, reason: str | None, actor: str | None = None) -> None:
        """Close the email in flight with ``status``, then cool down before the next draft."""
        e = self.email
        assert e is not None
        now = workflow.now()
        await calls.update_email(e.email_id, self.client_id, status, now, actor=actor, reason=reason)
        self.last_email = EmailOutcome(email_id=e.email_id, status=status, at=now, reason=reason)
        self.email = self.decision = None
        self.draft_not_before = now + timedelta(days=self.config.cool_down_days)
        self._count(OUTCOME_COUNTER[status])

    def _gate(self, now: datetime, stage: policy.Stage) -> policy.GateDecision:
        ctx = policy.GateContext(
            unsubscribed=self.consent.unsubscribed_at is not None,
            bounced=self.consent.bounced,
            paused=self.consent.paused,
            last_sent_at=self.last_sent_at,
            frequency_cap_days=self.config.frequency_cap_days,
            time_zone=self._time_zone(),
            quiet_hours_start=self.config.quiet_hours_start,
            quiet_hours_end=self.config.quiet_hours_end,
        )
        return policy.check_gate(ctx, now, stage)


def _after(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment > now
