"""Summary -> one versioned `ModelParameters`, or the defaults when data is thin."""

from datetime import date, datetime, timedelta

import numpy as np

from core.domain.scoring import bgnbd, gamma_gamma
from core.domain.scoring.params import (
    MIN_CLIENTS_FOR_FIT,
    MIN_REPEAT_BUYERS_FOR_FIT,
    ModelParameters,
    default_parameters,
)
from core.domain.scoring.rfm import rfm_cutpoints
from core.domain.scoring.summary import Summary

_EPOCH = date(1970, 1, 1)


def enough_data(summary: Summary) -> bool:
    """Whether the summary is large enough to replace the defaults."""
    repeat = int(np.count_nonzero((summary.frequency > 0) & (summary.monetary > 0)))
    return summary.n_clients >= MIN_CLIENTS_FOR_FIT and repeat >= MIN_REPEAT_BUYERS_FOR_FIT


def fit_parameters(
    summary: Summary,
    *,
    fitted_at: datetime,
    version: int,
    force: bool = False,
) -> ModelParameters:
    """Fit BG/NBD and Gamma-Gamma; below the data thresholds return the defaults.

    With `force` the fit runs on any amount of data (the analysts' CLI); it can
    then raise `InsufficientDataError` or `FitError`.
    """
    n_repeat = int(np.count_nonzero(summary.frequency > 0))
    rfm = None
    if summary.n_clients:
        rfm = rfm_cutpoints(summary.days_since_last_order, summary.frequency + 1, summary.average_value)
    mean_value = float(summary.average_value.mean()) if summary.n_clients else 0.0
    calibration_end = _EPOCH + timedelta(days=summary.until_day)
    if not force and not enough_data(summary):
        base = default_parameters(summary.unit)
        return base.model_copy(
            update={
                "fitted_at": fitted_at,
                "calibration_end": calibration_end,
                "n_clients": summary.n_clients,
                "n_repeat_buyers": n_repeat,
                "rfm": rfm,
            }
        )
    bg = bgnbd.fit(summary.frequency, summary.recency, summary.age)
    gg = gamma_gamma.fit(summary.frequency, summary.monetary)
    return ModelParameters(
        version=version,
        fitted_at=fitted_at,
        unit=summary.unit,
        calibration_end=calibration_end,
        n_clients=summary.n_clients,
        n_repeat_buyers=n_repeat,
        bgnbd=bg.params,
        gamma_gamma=gg.params,
        bgnbd_log_likelihood=bg.log_likelihood,
        gamma_gamma_log_likelihood=gg.log_likelihood,
        mean_order_value=max(mean_value, 1e-9),
        rfm=rfm,
        is_default=False,
    )
