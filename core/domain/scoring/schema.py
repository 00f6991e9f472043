"""Contracts of the single-client scoring API (pure pydantic, sandbox-safe)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class Tier(StrEnum):
    """Engagement tiers, best first."""

    ACTIVE = "active"
    COOLING = "cooling"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


TIERS: tuple[Tier, ...] = tuple(Tier)
"""Tier by its code in the vectorized scorer (0 = active ... 3 = lapsed)."""


class TierPolicy(BaseModel):
    """Where the tiers start, as a share of the client's own fresh probability.

    The tier compares P(order again within the horizon) now with the same
    probability right after the client's last order. A client is `cooling`
    below `cooling_below` of it, `at_risk` below `at_risk_below`, `lapsed`
    below `lapsed_below`. Being relative to the client's own baseline keeps
    one-time buyers (whose chance is low from day one) from starting at risk.
    """

    model_config = ConfigDict(frozen=True)

    cooling_below: float = Field(default=0.75, gt=0, le=1)
    at_risk_below: float = Field(default=0.5, gt=0, le=1)
    lapsed_below: float = Field(default=0.2, gt=0, le=1)

    @model_validator(mode="after")
    def _descending(self) -> Self:
        if not self.cooling_below >= self.at_risk_below >= self.lapsed_below:
            raise ValueError("thresholds must satisfy cooling >= at_risk >= lapsed")
        return self


class ClientSummary(BaseModel):
    """One client's order aggregate, in calendar days (same-day orders are one occasion)."""

    model_config = ConfigDict(frozen=True)

    first_order_date: date
    last_order_date: date
    frequency: int = Field(ge=0, description="repeat purchase occasions (distinct days - 1)")
    monetary_value: NonNegative = Field(
        default=0.0, description="mean value of the repeat occasions; 0 without repeats"
    )
    average_value: NonNegative | None = Field(
        default=None,
        description="mean value of all occasions, first included (RFM monetary)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        span = (self.last_order_date - self.first_order_date).days
        if span < 0:
            raise ValueError("last_order_date is before first_order_date")
        if (self.frequency == 0) != (span == 0):
            raise ValueError("frequency 0 exactly when all orders fall on the first day")
        return self

    @classmethod
    def from_totals(
        cls,
        first_order_date: date,
        last_order_date: date,
        occasions: int,
        total_value: float,
        first_occasion_value: float,
    ) -> "ClientSummary":
        """Build from running totals (what a workflow can keep without the order list)."""
        frequency = max(occasions - 1, 0)
        repeat_value = max(total_value - first_occasion_value, 0.0)
        return cls(
            first_order_date=first_order_date,
            last_order_date=last_order_date,
            frequency=frequency,
            monetary_value=repeat_value / frequency if frequency else 0.0,
            average_value=total_value / max(occasions, 1),
        )


class ClientScore(BaseModel):
    """A client's score with the numbers behind it and a plain-language explanation."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=100, description="100 x P(order again within the horizon)")
    tier: Tier
    p_alive: Probability
    p_order_again: Probability
    baseline_p_order_again: Probability = Field(
        description="the same probability right after the last order (tier reference)"
    )
    expected_orders: NonNegative
    expected_value: NonNegative
    segment: str | None = None
    days_since_last_order: int
    usual_gap_days: float | None = None
    horizon_days: int
    reasons: list[str]
    model_version: str


class TierChange(BaseModel):
    """The next tier a silent client moves into, and when."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    tier: Tier
