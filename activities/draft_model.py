"""What a drafter reads (one client's context) and what it produces (a checked draft)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.contracts.emails import GuardrailVerdict
from core.domain.guardrails import GuardrailPolicy

_CATEGORY = re.compile(r"^[^\W\d_][^\W\d_ &'-]*(?:[ &'-]+[^\W\d_]+){0,3}$")


@dataclass(frozen=True)
class RecentOrder:
    placed_on: date
    skus: list[str]
    categories: list[str]


@dataclass(frozen=True)
class EarlierEmail:
    """An email sent earlier in this episode (ours: its text passed the guardrails)."""

    subject: str
    body_text: str
    sent_on: date | None


@dataclass(frozen=True)
class DraftContext:
    """One client, as a drafter may see them: no email address, first name already vetted."""

    email_id: str
    client_id: str
    first_name: str | None
    tier: str
    segment: str | None
    reasons: list[str]
    tenure_days: int | None
    order_count: int
    recent_orders: list[RecentOrder]
    style_notes: str | None
    policy: GuardrailPolicy
    # The language to write in (``policy.locale`` too), the touch in the episode's sequence,
    # what the episode already said, and the one shop link the draft may carry.
    locale: str = "en"
    touch: int = 1
    earlier: list[EarlierEmail] = field(default_factory=list)
    cta_link: str | None = None

    def categories(self, limit: int = 2) -> list[str]:
        """Recent order categories that read as plain words, most recent first."""
        seen: dict[str, None] = {}
        for order in self.recent_orders:
            for category in order.categories:
                cleaned = " ".join(category.split()).lower()
                if len(cleaned) <= 30 and _CATEGORY.match(cleaned):
                    seen.setdefault(cleaned, None)
        return list(seen)[:limit]


@dataclass(frozen=True)
class Draft:
    """A draft and how it came to be: stored on the ``emails`` row."""

    subject: str
    preheader: str
    body_text: str
    generator: str
    prompt_version: str
    verdicts: list[GuardrailVerdict]
    model: str | None = None
    token_usage: dict[str, int] | None = None
    fell_back: bool = False
    fallback_reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
