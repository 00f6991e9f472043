"""INTERIM scoring rule used by the ``rescore_client`` activity until core/scoring (issue 3) lands.

TODO(lead): replace ``interim_score`` in activities/scoring.py with core.scoring's
single-client function and its "when does this client cross into at_risk" function;
the activity's contract (RescoreInput -> RescoreResult) stays the same.

The rule: compare the days since the last order with the client's own usual gap
(median days between orders, bounded; a default for one-time buyers). Tiers are
multiples of that gap; ``next_check_at`` is the moment the next tier begins, so the
workflow sleeps exactly until something can change.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.contracts import Tier

DEFAULT_GAP_DAYS = 45.0
MIN_GAP_DAYS = 7.0
MAX_GAP_DAYS = 180.0
# Tier boundaries as multiples of the usual gap: active below 1.5, cooling below 2.5, ...
THRESHOLDS: tuple[tuple[float, Tier], ...] = ((1.5, "cooling"), (2.5, "at_risk"), (5.0, "lapsed"))
DAY = 86_400.0


@dataclass(frozen=True)
class InterimScore:
    score: float
    tier: Tier
    segment: str | None
    reasons: list[str] = field(default_factory=list)
    next_check_at: datetime | None = None


def usual_gap_days(order_times: Sequence[datetime]) -> float | None:
    """Median days between consecutive orders (bounded), ``None`` for fewer than two orders."""
    times = sorted(set(order_times))
    if len(times) < 2:
        return None
    gaps = [(b - a).total_seconds() / DAY for a, b in itertools.pairwise(times)]
    return min(max(statistics.median(gaps), MIN_GAP_DAYS), MAX_GAP_DAYS)


def tier_for(ratio: float) -> Tier:
    """The tier for days-since-last-order divided by the usual gap."""
    tier: Tier = "active"
    for boundary, name in THRESHOLDS:
        if ratio >= boundary:
            tier = name
    return tier


def interim_score(order_times: Sequence[datetime], now: datetime) -> InterimScore:
    """Score 0-100 with reasons, the tier and when the tier would next change."""
    if not order_times:
        return InterimScore(score=50.0, tier="active", segment="no_orders", reasons=["no orders yet"])
    last = max(order_times)
    measured = usual_gap_days(order_times)
    gap = measured if measured is not None else DEFAULT_GAP_DAYS
    days = max((now - last).total_seconds() / DAY, 0.0)
    ratio = days / gap
    score = round(100.0 * 0.5 ** max(0.0, ratio - 1.0), 1)
    reasons = [f"no order for {days:.0f} days, usually orders every {gap:.0f}"]
    if measured is None:
        reasons = [f"no order for {days:.0f} days; one order so far, expecting one every {gap:.0f}"]
    upcoming = [b for b, _ in THRESHOLDS if b > ratio]
    next_check = last + timedelta(days=upcoming[0] * gap) if upcoming else None
    segment = "one_time" if measured is None else "repeat"
    return InterimScore(score, tier_for(ratio), segment, reasons, next_check)
