"""RFM quintile scores against the population and the usual named segments.

Tie rule: a client's score is 1 + floor(5 x the share of the population that is
strictly worse than the client), capped at 5. It depends only on the value, so
equal values always get equal scores whatever the row order, and the most
common value (e.g. one order) is not split across quintiles. The rule is
stored as four cut points per dimension (`RfmCutpoints`), so one client scored
later with the same cut points gets exactly the score the population run gave.

Recency is days since the last order (fewer is better); frequency counts
purchase occasions (first included); monetary is the average occasion value.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.domain.scoring.params import RfmCutpoints

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential loyalists",
    "new",
    "promising",
    "need attention",
    "about to sleep",
    "at risk",
    "can't lose them",
    "hibernating",
    "lost",
)
"""Segment names; the vectorized functions return indices into this tuple."""

_S = {name: i for i, name in enumerate(SEGMENTS)}
# Rows: recency score 1..5; columns: frequency score 1..5 (the common R x F grid).
_GRID = np.array(
    [
        [
            _S["lost"],
            _S["hibernating"],
            _S["at risk"],
            _S["at risk"],
            _S["can't lose them"],
        ],
        [
            _S["hibernating"],
            _S["hibernating"],
            _S["at risk"],
            _S["at risk"],
            _S["can't lose them"],
        ],
        [
            _S["about to sleep"],
            _S["about to sleep"],
            _S["need attention"],
            _S["loyal"],
            _S["loyal"],
        ],
        [
            _S["promising"],
            _S["potential loyalists"],
            _S["potential loyalists"],
            _S["loyal"],
            _S["loyal"],
        ],
        [
            _S["new"],
            _S["potential loyalists"],
            _S["potential loyalists"],
            _S["champions"],
            _S["champions"],
        ],
    ],
    dtype=np.int8,
)


def _cuts_higher_is_better(values: NDArray[np.float64]) -> list[float]:
    # count(< v) >= k  <=>  v > k-th smallest value, with k = ceil(s * n / 5).
    n = values.size
    ks = [-(-s * n // 5) - 1 for s in range(1, 5)]
    return [float(c) for c in np.partition(values, ks)[ks]]


def rfm_cutpoints(recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike) -> RfmCutpoints:
    """Cut points of the population's quintile scores (at least one client)."""
    rec = np.asarray(recency_days, dtype=np.float64)
    if rec.size == 0:
        raise ValueError("RFM cut points need at least one client")
    # Recency: lower is better, so cut on the negated values and negate back.
    rec_cuts = sorted(-c for c in _cuts_higher_is_better(-rec))
    return RfmCutpoints(
        recency_days=rec_cuts,
        frequency=_cuts_higher_is_better(np.asarray(frequency, dtype=np.float64)),
        monetary=_cuts_higher_is_better(np.asarray(monetary, dtype=np.float64)),
    )


def rfm_scores(
    recency_days: ArrayLike,
    frequency: ArrayLike,
    monetary: ArrayLike,
    cuts: RfmCutpoints,
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
    """Recency, frequency and monetary scores 1..5 (5 best) for each client."""
    rc = np.asarray(cuts.recency_days)
    r = 1 + rc.size - np.searchsorted(rc, np.asarray(recency_days, dtype=np.float64), "right")
    f = 1 + np.searchsorted(np.asarray(cuts.frequency), np.asarray(frequency, np.float64), "left")
    m = 1 + np.searchsorted(np.asarray(cuts.monetary), np.asarray(monetary, np.float64), "left")
    return r.astype(np.int8), f.astype(np.int8), m.astype(np.int8)


def rfm_segments(r_score: ArrayLike, f_score: ArrayLike) -> NDArray[np.int8]:
    """Segment index (into `SEGMENTS`) from recency and frequency scores."""
    r = np.asarray(r_score, dtype=np.intp) - 1
    f = np.asarray(f_score, dtype=np.intp) - 1
    return _GRID[r, f]


def segment_of(recency_days: float, frequency: float, monetary: float, cuts: RfmCutpoints) -> str:
    """Segment name of one client against stored cut points."""
    r, f, _ = rfm_scores([recency_days], [frequency], [monetary], cuts)
    return SEGMENTS[int(rfm_segments(r, f)[0])]
