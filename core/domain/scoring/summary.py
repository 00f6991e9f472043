"""Order history -> per-client frequency, recency, age and spend (vectorized).

Conventions (Fader, Hardie & Lee 2005; the `lifetimes` package):

- Orders on the same calendar day are one *purchase occasion*; their amounts add up.
- `frequency` x is the number of repeat occasions (distinct order days - 1).
- `recency` t_x is whole days from the first order day to the last order day,
  `age` T whole days from the first order day to `until`, both divided by 7 in weeks.
- Orders after `until` (the last day of the calibration period) are ignored;
  clients whose first order is after it are left out.
- `monetary` is the mean value of the *repeat* occasions, 0 for one-time buyers
  (`lifetimes.utils.summary_data_from_transaction_data`); it feeds Gamma-Gamma.
  `average_value` is the mean over all occasions, first included; it feeds RFM.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.domain.scoring.errors import InvalidHistoryError
from core.domain.scoring.params import UNIT_DAYS, Unit

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the integer behind numpy's datetime64[D])."""
    return d.toordinal() - _EPOCH_ORDINAL


@dataclass(frozen=True, slots=True)
class Summary:
    """Per-client summary; every array is aligned with `client_ids` (sorted, unique)."""

    client_ids: NDArray[Any]
    frequency: NDArray[np.int64]
    recency_days: NDArray[np.int64]
    age_days: NDArray[np.int64]
    monetary: NDArray[np.float64]
    average_value: NDArray[np.float64]
    first_day: NDArray[np.int64]
    until_day: int
    unit: Unit

    @property
    def n_clients(self) -> int:
        """Number of clients summarised."""
        return int(self.frequency.shape[0])

    @property
    def recency(self) -> NDArray[np.float64]:
        """t_x in the model unit."""
        return self.recency_days / UNIT_DAYS[self.unit]

    @property
    def age(self) -> NDArray[np.float64]:
        """T in the model unit."""
        return self.age_days / UNIT_DAYS[self.unit]

    @property
    def days_since_last_order(self) -> NDArray[np.int64]:
        """Whole days from the last order day to `until` (RFM recency)."""
        return self.age_days - self.recency_days


def _to_days(ordered_at: NDArray[Any]) -> NDArray[np.int64]:
    if ordered_at.dtype.kind == "M":
        if np.isnat(ordered_at).any():
            raise InvalidHistoryError("ordered_at contains NaT")
        return ordered_at.astype("datetime64[D]").astype(np.int64)
    if ordered_at.dtype.kind in "iu":
        return ordered_at.astype(np.int64)
    raise InvalidHistoryError("ordered_at must be datetime64 or integer day numbers")


def _client_codes(client_ids: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    if client_ids.dtype.kind in "iu" and client_ids.size:
        lo, hi = int(client_ids.min()), int(client_ids.max())
        if hi - lo < 4 * client_ids.size + 1024:
            # Dense integer ids: factorize with a presence map instead of a sort.
            offset = client_ids.astype(np.int64) - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            uniques = np.flatnonzero(present) + lo
            codes = (np.cumsum(present) - 1)[offset]
            return uniques.astype(client_ids.dtype), codes
    uniques, codes = np.unique(client_ids, return_inverse=True)
    return uniques, codes.astype(np.int64)


def summarize(
    client_ids: ArrayLike,
    ordered_at: ArrayLike,
    amounts: ArrayLike,
    *,
    until: date,
    unit: Unit = "days",
) -> Summary:
    """Summarise order rows (any order) into one row per client, as of `until`."""
    ids = np.asarray(client_ids)
    days = _to_days(np.asarray(ordered_at))
    amount = np.asarray(amounts, dtype=np.float64)
    if not (ids.ndim == days.ndim == amount.ndim == 1) or not (ids.shape == days.shape == amount.shape):
        raise InvalidHistoryError("client_ids, ordered_at and amounts must be 1-D, same length")
    if not np.isfinite(amount).all() or (amount < 0).any():
        raise InvalidHistoryError("amounts must be finite and non-negative")
    until_day = day_number(until)
    keep = days <= until_day
    if not keep.all():
        ids, days, amount = ids[keep], days[keep], amount[keep]
    uniques, codes = _client_codes(ids)
    if days.size == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return Summary(
            uniques,
            empty_i,
            empty_i,
            empty_i,
            empty_f,
            empty_f,
            empty_i,
            until_day,
            unit,
        )

    # One int64 key per (client, day): sorting it groups clients and days together.
    dmin = int(days.min())
    span = until_day - dmin + 1
    key = codes * span + (days - dmin)
    order = np.argsort(key)
    key = key[order]
    occ_start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    occ_value = np.add.reduceat(amount[order], occ_start)
    occ_key = key[occ_start]
    occ_client = occ_key // span
    occ_day = occ_key % span + dmin

    client_start = np.flatnonzero(np.concatenate(([True], occ_client[1:] != occ_client[:-1])))
    client_end = np.concatenate((client_start[1:], [occ_key.size]))
    occasions = client_end - client_start
    first_day = occ_day[client_start]
    last_day = occ_day[client_end - 1]
    total = np.add.reduceat(occ_value, client_start)
    frequency = (occasions - 1).astype(np.int64)
    repeat_total = total - occ_value[client_start]
    monetary = np.divide(repeat_total, frequency, out=np.zeros(frequency.size), where=frequency > 0)
    return Summary(
        client_ids=uniques[occ_client[client_start]],
        frequency=frequency,
        recency_days=last_day - first_day,
        age_days=until_day - first_day,
        monetary=np.maximum(monetary, 0.0),
        average_value=total / occasions,
        first_day=first_day,
        until_day=until_day,
        unit=unit,
    )
