"""A stand-in client workflow that only answers the approval Updates, per the contract.

It lets the page -> Update -> answer path run for real on the dev server while the
real client workflow (issue 4) is built elsewhere: the validators refuse any id but
the pending draft, and an edited subject that mentions a price (as a guardrail would).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from core.contracts.approval import ApproveEmail, EmailDecision, RejectEmail
    from core.contracts.messages import QUERY_STATE, UPDATE_APPROVE_EMAIL, UPDATE_REJECT_EMAIL
    from core.contracts.state import ClientStateView


class PendingDraft(BaseModel):
    client_id: str
    email_id: str


class Decisions(BaseModel):
    approved: list[ApproveEmail] = []
    rejected: list[RejectEmail] = []


@workflow.defn
class ApprovalOnlyWorkflow:
    """Holds one pending draft until someone approves or rejects it, then finishes; answers ``state``."""

    @workflow.init
    def __init__(self, draft: PendingDraft) -> None:
        self._client_id = draft.client_id
        self._pending: str | None = draft.email_id
        self._decisions = Decisions()

    @workflow.run
    async def run(self, draft: PendingDraft) -> Decisions:
        await workflow.wait_condition(lambda: self._pending is None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._decisions

    @workflow.query(name=QUERY_STATE)
    def state(self) -> ClientStateView:
        return ClientStateView(client_id=self._client_id, order_count=6, last_order_at=None, pending_orders=0)

    def _check_pending(self, email_id: str) -> None:
        if email_id != self._pending:
            raise ApplicationError(f"email {email_id} is not the pending draft", type="NotPending")

    @workflow.update(name=UPDATE_APPROVE_EMAIL)
    def approve_email(self, approval: ApproveEmail) -> EmailDecision:
        self._decisions.approved.append(approval)
        self._pending = None
        scheduled = workflow.now() + timedelta(hours=1)
        return EmailDecision(email_id=approval.email_id, status="approved", scheduled_for=scheduled)

    @approve_email.validator
    def _validate_approve(self, approval: ApproveEmail) -> None:
        self._check_pending(approval.email_id)
        if approval.subject is not None and "$" in approval.subject:
            raise ApplicationError(
                "guardrail no_invented_prices: the subject mentions a price", type="Guardrail"
            )

    @workflow.update(name=UPDATE_REJECT_EMAIL)
    def reject_email(self, rejection: RejectEmail) -> EmailDecision:
        self._decisions.rejected.append(rejection)
        self._pending = None
        return EmailDecision(email_id=rejection.email_id, status="rejected")

    @reject_email.validator
    def _validate_reject(self, rejection: RejectEmail) -> None:
        self._check_pending(rejection.email_id)
