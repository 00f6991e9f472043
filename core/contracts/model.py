"""Contracts of the model refit workflow and its activities (pure pydantic, sandbox-safe)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.domain.scoring.params import ModelParameters, Unit

REFIT_WORKFLOW = "RefitModelWorkflow"
ACTIVITY_FIT_MODEL = "fit_model"
ACTIVITY_STORE_MODEL = "store_model_parameters"


class _Frozen(BaseModel):
    """As ``core.contracts.messages.Frozen``: a field an older or newer worker sends is ignored, never a
    failed refit task during a rolling deploy."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class RefitModelInput(_Frozen):
    """What the schedule starts the refit with (snapshotted from settings)."""

    unit: Unit = "days"
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 250_000
    calibration_end: date | None = Field(
        default=None, description="last day of the calibration period; the run's UTC date if unset"
    )


class RefitModelResult(_Frozen):
    """``stored`` is False while there is too little data (the defaults stay in force)."""

    stored: bool
    version: int | None
    n_clients: int
    n_repeat_buyers: int
    n_orders: int
    calibration_end: date


class FitModelInput(_Frozen):
    """Fit on every order placed on or before ``calibration_end`` (UTC days)."""

    calibration_end: date
    unit: Unit
    fitted_at: datetime
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)]


class FitModelResult(_Frozen):
    """The fitted set (``version`` 0 until stored) or the defaults when data is too thin."""

    parameters: ModelParameters
    n_orders: int


class StoreModelInput(_Frozen):
    """Store ``parameters`` as the next version; ``refit_id`` makes a retried store a no-op."""

    parameters: ModelParameters
    refit_id: Annotated[str, Field(min_length=1, max_length=200)]


class StoreModelResult(_Frozen):
    version: int
    created: bool
