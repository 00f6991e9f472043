"""Uplift of re-engagement emails: reorder rates of emailed vs holdout clients.

Pure statistics over *episodes*: one per client who turned at risk and got a
re-engagement email (``sent``) or would have got one (``holdout``). The anchor is
the moment the draft was made, which both arms share, so the waiting for approval
and the send window count as part of the treatment. An episode counts for an
N-day window only once N days have passed since its anchor (otherwise a client
who has not reordered *yet* would count as a miss).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Arm = Literal["emailed", "holdout"]
# (arm, window days) -> (reordered within the window, clients whose window has closed)
Counts = dict[tuple[Arm, int], tuple[int, int]]
Z_95 = 1.959963984540054
WINDOWS = (30, 60, 90)
MIN_PER_ARM = 30


@dataclass(frozen=True)
class Episode:
    arm: Arm
    anchor: datetime
    reordered_at: datetime | None


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class ArmRate:
    n: int
    reordered: int
    rate: float | None
    ci: Interval | None


@dataclass(frozen=True)
class WindowResult:
    days: int
    emailed: ArmRate
    holdout: ArmRate
    uplift: float | None
    uplift_ci: Interval | None
    enough_data: bool


@dataclass(frozen=True)
class UpliftReport:
    windows: list[WindowResult]
    episodes: int
    min_per_arm: int

    @property
    def enough_data(self) -> bool:
        return any(w.enough_data for w in self.windows)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval for a binomial proportion (sane at 0, 1 and small n)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At 0 and n the bound is exactly 0 or 1; floating point would leave 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, z: float = Z_95) -> Interval:
    """Interval for p1 - p2 from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    a, b = wilson_interval(k1, n1, z), wilson_interval(k2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = d + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(max(-1.0, low), min(1.0, high))


def arm_rate(successes: int, n: int) -> ArmRate:
    if n == 0:
        return ArmRate(0, 0, None, None)
    return ArmRate(n, successes, successes / n, wilson_interval(successes, n))


def _count(episodes: Iterable[Episode], arm: Arm, days: int, now: datetime) -> tuple[int, int]:
    window = timedelta(days=days)
    n = k = 0
    for ep in episodes:
        if ep.arm != arm or ep.anchor + window > now:
            continue  # a different arm, or the window has not closed yet
        n += 1
        if ep.reordered_at is not None and ep.anchor < ep.reordered_at <= ep.anchor + window:
            k += 1
    return k, n


def count_episodes(episodes: Sequence[Episode], now: datetime, windows: Sequence[int] = WINDOWS) -> Counts:
    """The counts the report is made of (the database computes the same in SQL)."""
    return {
        (arm, days): _count(episodes, arm, days, now) for arm in ("emailed", "holdout") for days in windows
    }


def window_result(counts: Counts, days: int, min_per_arm: int) -> WindowResult:
    """Rates, intervals and the uplift for one window; no uplift without enough data in both arms."""
    ke, ne = counts.get(("emailed", days), (0, 0))
    kh, nh = counts.get(("holdout", days), (0, 0))
    enough = ne >= min_per_arm and nh >= min_per_arm
    uplift = ke / ne - kh / nh if enough else None
    ci = newcombe_difference(ke, ne, kh, nh) if enough else None
    return WindowResult(days, arm_rate(ke, ne), arm_rate(kh, nh), uplift, ci, enough)


def report_from_counts(
    counts: Counts, episodes: int, windows: Sequence[int] = WINDOWS, min_per_arm: int = MIN_PER_ARM
) -> UpliftReport:
    """The report for every window; ``enough_data`` is honest about small samples."""
    results = [window_result(counts, days, min_per_arm) for days in windows]
    return UpliftReport(results, episodes, min_per_arm)


def uplift_report(
    episodes: Sequence[Episode],
    now: datetime,
    windows: Sequence[int] = WINDOWS,
    min_per_arm: int = MIN_PER_ARM,
) -> UpliftReport:
    """The report from individual episodes."""
    return report_from_counts(count_episodes(episodes, now, windows), len(episodes), windows, min_per_arm)
