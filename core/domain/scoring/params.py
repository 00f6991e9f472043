"""Versioned model parameter sets and the defaults used before enough data exists.

Pure pydantic: safe to import from workflow code. Rates are per `unit`
(days or weeks); `default_parameters` converts the defaults between units.
"""

from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Unit = Literal["days", "weeks"]

UNIT_DAYS: dict[str, int] = {"days": 1, "weeks": 7}
"""Length of one model time unit in days."""

MIN_CLIENTS_FOR_FIT = 500
"""Below this many clients the fitted parameters are too noisy: defaults apply."""

MIN_REPEAT_BUYERS_FOR_FIT = 100
"""Below this many repeat buyers (frequency >= 1) the defaults apply."""

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class BgNbdParams(BaseModel):
    """BG/NBD population parameters: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b)."""

    model_config = ConfigDict(frozen=True)

    r: Positive
    alpha: Positive
    a: Positive
    b: Positive


class GammaGammaParams(BaseModel):
    """Gamma-Gamma spend parameters: order value ~ Gamma(p, nu), nu ~ Gamma(q, gamma)."""

    model_config = ConfigDict(frozen=True)

    p: Positive
    q: Positive
    gamma: Positive


class RfmCutpoints(BaseModel):
    """Population cut points for RFM quintile scores (see `core.domain.scoring.rfm`).

    Each list holds four ascending values. Frequency and monetary score
    1 + (number of cut points strictly below the value); recency (days since
    the last order, lower is better) scores 1 + (number strictly above).
    """

    model_config = ConfigDict(frozen=True)

    recency_days: list[float]
    frequency: list[float]
    monetary: list[float]

    @field_validator("recency_days", "frequency", "monetary")
    @classmethod
    def _four_ascending(cls, v: list[float]) -> list[float]:
        if len(v) != 4 or any(b < a for a, b in pairwise(v)):
            raise ValueError("expected four ascending cut points")
        return v


class ModelParameters(BaseModel):
    """One versioned parameter set: what a refit stores and what rescoring reads."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=0, description="0 for the built-in defaults")
    fitted_at: datetime
    unit: Unit = "days"
    calibration_end: date | None = None
    n_clients: int = Field(ge=0)
    n_repeat_buyers: int = Field(ge=0)
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    bgnbd_log_likelihood: float | None = None
    gamma_gamma_log_likelihood: float | None = None
    mean_order_value: Positive = Field(
        description="average occasion value; the expected value when the spend model has no mean"
    )
    rfm: RfmCutpoints | None = None
    is_default: bool = False

    @property
    def model_version(self) -> str:
        """Label shown with every score: `default` or `v<version>`."""
        return "default" if self.is_default else f"v{self.version}"


_DEFAULT_BGNBD_DAYS = BgNbdParams(r=0.8, alpha=40.0, a=0.6, b=4.0)
"""One order every ~50 days on average, ~13 % chance of leaving after each order."""

_DEFAULT_GAMMA_GAMMA = GammaGammaParams(p=6.0, q=4.0, gamma=20.0)
"""Mean order value p * gamma / (q - 1) = 40 currency units."""


def default_parameters(unit: Unit = "days") -> ModelParameters:
    """Built-in parameters used until `MIN_CLIENTS_FOR_FIT` clients exist."""
    scale = UNIT_DAYS[unit]
    bg = _DEFAULT_BGNBD_DAYS
    return ModelParameters(
        version=0,
        fitted_at=datetime(1970, 1, 1, tzinfo=UTC),
        unit=unit,
        n_clients=0,
        n_repeat_buyers=0,
        # A rate per week is 7x a rate per day: alpha (a rate parameter on time) shrinks.
        bgnbd=BgNbdParams(r=bg.r, alpha=bg.alpha / scale, a=bg.a, b=bg.b),
        gamma_gamma=_DEFAULT_GAMMA_GAMMA,
        mean_order_value=40.0,
        is_default=True,
    )


DEFAULT_PARAMETERS = default_parameters("days")
