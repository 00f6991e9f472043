"""Replies of the delivery-feedback and inbound-mail webhooks (their routes: feedback, inbound)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class FeedbackReply(BaseModel):
    """What the webhook did: ``recorded`` counts events seen for the first time."""

    status: Literal["accepted", "subscription_confirmed", "ignored"]
    events: int = 0
    recorded: int = 0


class InboundReply(BaseModel):
    """``dsn`` with its event counts, ``unsubscribed``, or ``ignored`` (not ours to act on)."""

    status: Literal["dsn", "unsubscribed", "ignored"]
    events: int = 0
    recorded: int = 0
