"""A stand-in for the client workflow's approval Updates, speaking the agreed contract.

The client workflow's approval pipeline is built in parallel (issue 4); this stub has
the same workflow type, Update names, models and rejection types
(``UPDATE_ERROR_NOT_PENDING``, ``UPDATE_ERROR_GUARDRAILS``), so the API's mapping is
tested against a real Temporal server without depending on that work.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from core.contracts import (
    CLIENT_WORKFLOW,
    UPDATE_ERROR_GUARDRAILS,
    UPDATE_ERROR_NOT_PENDING,
    ApproveEmail,
    EmailDecision,
    RejectEmail,
)

FORBIDDEN_PHRASE = "50% off"


class StubInput(BaseModel):
    client_id: str
    pending_email_id: str


@workflow.defn(name=CLIENT_WORKFLOW)
class ApprovalStub:
    @workflow.init
    def __init__(self, input: StubInput) -> None:
        self._pending: str | None = input.pending_email_id

    @workflow.run
    async def run(self, input: StubInput) -> None:
        await workflow.wait_condition(lambda: False)

    def _check_pending(self, email_id: str) -> None:
        if email_id != self._pending:
            raise ApplicationError("the email is not pending", type=UPDATE_ERROR_NOT_PENDING)

    @workflow.update(name="approve_email")
    def approve(self, request: ApproveEmail) -> EmailDecision:
        self._pending = None
        return EmailDecision(email_id=request.email_id, status="approved")

    @approve.validator
    def _approve_ok(self, request: ApproveEmail) -> None:
        self._check_pending(request.email_id)
        if request.body_text and FORBIDDEN_PHRASE in request.body_text:
            verdict = {"name": "no_unapproved_offer", "passed": False, "detail": f"'{FORBIDDEN_PHRASE}'"}
            raise ApplicationError("edits fail the guardrails", [verdict], type=UPDATE_ERROR_GUARDRAILS)

    @workflow.update(name="reject_email")
    def reject(self, request: RejectEmail) -> EmailDecision:
        self._pending = None
        return EmailDecision(email_id=request.email_id, status="rejected")

    @reject.validator
    def _reject_ok(self, request: RejectEmail) -> None:
        self._check_pending(request.email_id)
