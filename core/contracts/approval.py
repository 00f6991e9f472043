"""The approval updates (approve, reject, edit) and the errors their validators raise."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from core.contracts.messages import Frozen, ShortText


class ApproveEmail(Frozen):
    """Update ``approve_email``: the id must be the pending draft; edits are re-checked."""

    email_id: ShortText
    approved_by: ShortText
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    preheader: Annotated[str, StringConstraints(max_length=200)] | None = None
    body_text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None


class RejectEmail(Frozen):
    """Update ``reject_email``: the id must be the pending draft."""

    email_id: ShortText
    rejected_by: ShortText
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class CancelEmail(Frozen):
    """Update ``cancel_email``: the id must be the email in flight, a draft or a send not yet due."""

    email_id: ShortText
    cancelled_by: ShortText
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = "cancelled by ops"


# The ``type`` of the ApplicationError an approval validator raises, which the API maps:
# the email is not the pending draft (already decided, expired, cancelled, unknown) -> 409;
# the edited subject/body fails the guardrails -> 422 (details[0]: the failing verdicts,
# a list of GuardrailVerdict dicts). Any other rejection is answered as 409.
UPDATE_ERROR_NOT_PENDING = "EmailNotPending"
UPDATE_ERROR_GUARDRAILS = "EditRejected"


class EmailDecision(Frozen):
    """What an approval Update answers: the email's status after the decision.

    ``reason``: why the decision was not applied (the draft stays pending), e.g. the
    edit failed the activity's guardrails although the workflow's validator passed it.
    """

    email_id: str
    status: str
    scheduled_for: datetime | None = None
    reason: str | None = None
