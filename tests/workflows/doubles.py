"""Test doubles for the drafting and sending activities (issue 5 builds the real ones).

Registered under the real activity names; they honour the contracts (idempotent
timeline, at-most-once send) and record every call so scenarios can assert on
exactly what the workflow asked for and when (in the test server's skipped time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts.emails import (
    DraftEmailInput,
    DraftEmailResult,
    SendEmailInput,
    SendEmailResult,
    UpdateEmailInput,
    UpdateEmailResult,
)
from core.contracts.messages import ACTIVITY_DRAFT_EMAIL, ACTIVITY_SEND_EMAIL, ACTIVITY_UPDATE_EMAIL

BOOM = "Boom"


def boom(name: str) -> ApplicationError:
    """The unexpected failure a broken activity raises (non-retryable: the workflow must cope)."""
    return ApplicationError(f"{name} is broken", type=BOOM, non_retryable=True)


@dataclass
class Sent:
    email_id: str
    client_id: str
    at: datetime


@dataclass
class EmailDoubles:
    """In-memory drafting, timeline and sending that record calls."""

    drafts: list[DraftEmailInput] = field(default_factory=list)
    updates: list[UpdateEmailInput] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    send_outcome: Literal["sent", "unknown", "failed", "suppressed"] = "sent"
    fail_drafts: bool = False
    # Activity names that raise ``boom`` until removed from the set.
    broken: set[str] = field(default_factory=set)
    # What update_email answers instead of recording (an expected conflict), when it returns one.
    update_answer: Callable[[UpdateEmailInput], UpdateEmailResult | None] = lambda _input: None
    # Clients the drafting activity finds without an email address.
    no_address: set[str] = field(default_factory=set)
    # Every client id draft_email was called for, failed attempts included.
    draft_calls: list[str] = field(default_factory=list)
    # Errors the next send attempts raise, one each.
    send_errors: list[ApplicationError] = field(default_factory=list)

    def check(self, name: str) -> None:
        if name in self.broken:
            raise boom(name)

    @activity.defn(name=ACTIVITY_DRAFT_EMAIL)
    async def draft_email(self, input: DraftEmailInput) -> DraftEmailResult:
        self.check(ACTIVITY_DRAFT_EMAIL)
        self.draft_calls.append(input.client_id)
        if input.client_id in self.no_address:
            raise ApplicationError(
                "the client has no email address", type="NoEmailAddress", non_retryable=True
            )
        if self.fail_drafts:
            raise ApplicationError("drafting is down", type="DraftFailed", non_retryable=True)
        if all(d.email_id != input.email_id for d in self.drafts):
            self.drafts.append(input)
        return DraftEmailResult(
            email_id=input.email_id,
            subject="We miss you",
            preheader="Something new for you",
            body_text="Hello, it has been a while. Here is what is new this season.",
            body_html="<p>Hello, it has been a while.</p>",
            generator="double",
            prompt_version="test",
        )

    @activity.defn(name=ACTIVITY_UPDATE_EMAIL)
    async def update_email(self, input: UpdateEmailInput) -> UpdateEmailResult | None:
        self.check(ACTIVITY_UPDATE_EMAIL)
        answer = self.update_answer(input)
        if answer is not None:
            return answer
        key = (input.email_id, input.status, input.at)
        if all((u.email_id, u.status, u.at) != key for u in self.updates):
            self.updates.append(input)
        return None

    @activity.defn(name=ACTIVITY_SEND_EMAIL)
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        if self.send_errors:
            raise self.send_errors.pop(0)
        if any(s.email_id == input.email_id for s in self.sent):
            return SendEmailResult(email_id=input.email_id, outcome="sent", message_id=input.email_id)
        if self.send_outcome == "sent":
            at = activity.info().current_attempt_scheduled_time
            self.sent.append(Sent(input.email_id, input.client_id, at))
        return SendEmailResult(email_id=input.email_id, outcome=self.send_outcome, message_id=input.email_id)

    def activities(self) -> list[Any]:
        return [self.draft_email, self.update_email, self.send_email]

    def timeline(self, client_id: str) -> list[tuple[str, str]]:
        """(email id, status) in the order the workflow wrote them, for one client."""
        return [(u.email_id, u.status) for u in self.updates if u.client_id == client_id]

    def statuses(self, client_id: str) -> list[str]:
        return [status for _, status in self.timeline(client_id)]

    def sends(self, client_id: str) -> list[Sent]:
        return [s for s in self.sent if s.client_id == client_id]
