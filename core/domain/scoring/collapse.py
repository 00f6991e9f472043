"""Collapse identical summaries into weighted rows, keeping value tables small.

The likelihood's expensive special functions depend on x alone, and the
logarithms on T or t_x alone, so each is evaluated once per distinct value and
gathered. Day-resolution data (integral in days or weeks) is factorized with a
presence map, not a sort.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_MAP_LIMIT = 1 << 26  # largest presence map (bytes) worth allocating


def _integral_scaled(v: NDArray[np.float64]) -> NDArray[np.int64] | None:
    # Day-resolution values are integral in days, or in sevenths with weeks.
    if not np.isfinite(v).all() or float(np.abs(v).max()) * 7.0 > 2.0**52:
        return None
    for scale in (1.0, 7.0):
        s = v * scale
        r = np.rint(s)
        if np.array_equal(s, r) or np.allclose(s, r, rtol=0, atol=1e-9):
            return r.astype(np.int64)
    return None


def factorize_ints(
    key: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Sorted distinct values and each element's index among them."""
    if key.size == 0:
        return key.copy(), np.zeros(0, dtype=np.intp)
    lo, hi = int(key.min()), int(key.max())
    if hi - lo < max(_MAP_LIMIT // 8, 4 * key.size):
        offset = key - lo
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[offset] = True
        remap = np.cumsum(present, dtype=np.intp) - 1
        return np.flatnonzero(present).astype(np.int64) + lo, remap[offset]
    uniques, inverse = np.unique(key, return_inverse=True)
    return uniques, inverse.astype(np.intp)


def factorize(
    values: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Distinct values (sorted) and indices, fast for day-resolution data."""
    scaled = _integral_scaled(values) if values.size else None
    if scaled is not None:
        uniques_i, inverse = factorize_ints(scaled)
        # Re-derive the table from the original values so nothing is rounded.
        table = np.empty(uniques_i.size, dtype=np.float64)
        table[inverse] = values
        return table, inverse
    uniques, inv = np.unique(values, return_inverse=True)
    return uniques.astype(np.float64), inv.astype(np.intp)


@dataclass(frozen=True, slots=True)
class Collapsed:
    """Distinct (x, t_x, T) rows with weights and indices into per-value tables."""

    x_values: NDArray[np.float64]
    recency_values: NDArray[np.float64]
    age_values: NDArray[np.float64]
    x_idx: NDArray[np.intp]
    recency_idx: NDArray[np.intp]
    age_idx: NDArray[np.intp]
    x: NDArray[np.float64]
    weights: NDArray[np.float64]
    x_weights: NDArray[np.float64]

    @property
    def n_total(self) -> float:
        """Total weight (number of clients)."""
        return float(self.x_weights.sum())


def collapse(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
) -> Collapsed:
    """Group identical (x, t_x, T) summaries; `weights` default to one per row."""
    x = np.asarray(frequency, dtype=np.float64)
    tx = np.asarray(recency, dtype=np.float64)
    t_age = np.asarray(age, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    xv, xi = factorize(x)
    tv, ti = factorize(tx)
    av, ai = factorize(t_age)
    nx, nt, na = xv.size, tv.size, av.size
    counts: NDArray[np.float64]
    if float(nx) * nt * na < 2.0**62:
        key = (xi.astype(np.int64) * nt + ti) * na + ai
        if weights is None:
            key.sort()
            starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            uniq = key[starts]
            counts = np.diff(np.append(starts, key.size)).astype(np.float64)
        else:
            uniq, inverse = np.unique(key, return_inverse=True)
            counts = np.bincount(inverse, w, uniq.size).astype(np.float64)
        ux, ut, ua = uniq // (nt * na), (uniq // na) % nt, uniq % na
    else:  # pragma: no cover - needs ~2**21 distinct values in each column
        rows, inverse = np.unique(np.stack([xi, ti, ai], axis=1), axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), w, rows.shape[0]).astype(np.float64)
        ux, ut, ua = rows[:, 0], rows[:, 1], rows[:, 2]
    ux = ux.astype(np.intp)
    return Collapsed(
        x_values=xv,
        recency_values=tv,
        age_values=av,
        x_idx=ux,
        recency_idx=ut.astype(np.intp),
        age_idx=ua.astype(np.intp),
        x=xv[ux],
        weights=counts,
        x_weights=np.bincount(ux, weights=counts, minlength=nx).astype(np.float64),
    )
