"""The drafting and sending activities' contracts, and an email's status."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from core.contracts.messages import Frozen
from core.contracts.scoring import Tier

EmailStatus = Literal[
    "pending_approval",
    "approved",
    "sending",
    "sent",
    "rejected",
    "expired",
    "failed",
    "unknown",
    "holdout",
    "cancelled",
]


class GuardrailVerdict(Frozen):
    name: str
    passed: bool
    detail: str = ""


class DraftEmailInput(Frozen):
    """Draft one email; the activity reads the profile and orders itself (no personal data here)."""

    email_id: str
    client_id: str
    tier: Tier
    segment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    created_at: datetime
    # A sequence's touch (1: the episode's first email) and the episode's earlier emails, which
    # the drafter reads so a follow-up knows what was said; absent in older histories' inputs.
    touch: int = Field(default=1, ge=1, le=10)
    episode_email_ids: list[str] = Field(default_factory=list, max_length=10)


class DraftEmailResult(Frozen):
    email_id: str
    subject: str
    preheader: str
    body_text: str
    body_html: str
    generator: str
    model: str | None = None
    prompt_version: str
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)
    fell_back: bool = False
    # what the stored email is now: a retry for an email already decided answers its status
    status: EmailStatus = "pending_approval"


class UpdateEmailInput(Frozen):
    """Move an email to ``status`` and append to its timeline (idempotent by email, status, at)."""

    email_id: str
    client_id: str
    status: EmailStatus
    at: datetime
    actor: str | None = None
    reason: str | None = None
    scheduled_for: datetime | None = None
    subject: str | None = None
    preheader: str | None = None
    body_text: str | None = None


class UpdateEmailResult(Frozen):
    """``applied``: the row moved (or already was) at ``status``; else ``status`` is what it is
    (``None``: no such email) and ``reason`` says why (an expected conflict, not an error)."""

    email_id: str
    status: EmailStatus | None = None
    applied: bool
    reason: str | None = None


class SendEmailInput(Frozen):
    email_id: str
    client_id: str


class SendEmailResult(Frozen):
    """``sent``: delivered now or by an earlier attempt; ``unknown``: a crash left the outcome
    unknown and nothing was resent; ``failed``: permanent rejection, address suppressed;
    ``suppressed``: the address opted out before sending, nothing sent; ``cancelled``: no
    address on file, nothing sent (not a bounce: an address may still come)."""

    email_id: str
    outcome: Literal["sent", "unknown", "failed", "suppressed", "cancelled"]
    message_id: str | None = None
    detail: str = ""
