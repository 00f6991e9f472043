"""What the Temporal Web UI shows about a client: timer summaries and one line of details.

Ops open a client's workflow and should see where it stands without decoding
payloads: why it sleeps and until when, its tier and score, where its email is.
Summaries and details are stored as (encrypted) user metadata and are not compared
on replay, so they may change freely. They never hold personal data: no names,
addresses, email text or free-text reasons from ops, only tiers, numbers, statuses
and times.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.contracts.state import EmailOutcome, PendingEmail, ScoreView


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def wake_reason(
    wake: datetime,
    next_check_at: datetime | None,
    email: PendingEmail | None,
    retry_at: datetime | None,
    draft_not_before: datetime | None,
) -> str:
    """Which of the workflow's deadlines the next wake-up is for."""
    if email is not None and email.status == "pending_approval" and wake == email.expires_at:
        return "approval deadline"
    if email is not None and email.status != "pending_approval" and wake == email.scheduled_for:
        return "send window opens"
    if wake == next_check_at:
        return "next rescore"
    if wake == retry_at:
        return "draft retry"
    if wake == draft_not_before:
        return "cool-down ends, follow-up possible"
    return "routine check"


def timer_summary(reason: str, wake: datetime) -> str:
    """The summary of the timer the main loop sleeps on, e.g. ``next rescore at 2026-03-01 09:00 UTC``."""
    return f"{reason} at {_at(wake)}"


def email_status(email: PendingEmail | None, last: EmailOutcome | None) -> str:
    if email is not None:
        if email.status == "pending_approval":
            return f"email awaiting approval until {_at(email.expires_at)}"
        when = f" for {_at(email.scheduled_for)}" if email.scheduled_for else ""
        return f"email {email.status}{when}"
    if last is not None:
        return f"last email {last.status} {last.at:%Y-%m-%d}"
    return "no email yet"


def current_details(
    score: ScoreView | None,
    wake_reason: str,
    wake: datetime,
    email: PendingEmail | None,
    last: EmailOutcome | None,
    blocked: str | None,
) -> str:
    """One line: tier and score, the next wake-up and why, the email's status."""
    standing = f"{score.tier} (score {score.score:.0f})" if score else "not scored yet"
    parts = [standing, f"next wake {_at(wake)} ({wake_reason})", email_status(email, last)]
    if blocked and email is None:
        parts.append(f"held: {blocked}")
    return " · ".join(parts)
