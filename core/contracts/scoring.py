"""The scoring activity's contract: tiers, scores, reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from core.contracts.messages import Frozen

Tier = Literal["active", "cooling", "at_risk", "lapsed"]


class RescoreInput(Frozen):
    client_id: str
    now: datetime
    horizon_days: int = 90


class RescoreResult(Frozen):
    """The score as recorded; ``next_check_at`` is when the tier would next change with no orders."""

    score: float
    tier: Tier
    segment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    p_alive: float | None = None
    p_order_again: float | None = None
    model_version: int | None = None
    model_is_default: bool = True
    next_check_at: datetime | None = None
    # Over the horizon: expected orders and spend (the client's currency); a tier's policy
    # may require a minimum expected value before emailing.
    expected_orders: float | None = None
    expected_value: float | None = None
