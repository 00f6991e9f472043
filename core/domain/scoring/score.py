"""Scores 0-100, tiers and reasons: for the whole population and for one client.

score = round(100 x P(order again within the horizon)); the tier compares that
probability with the same probability right after the client's last order
(`TierPolicy`). Time passes only through T (whole days since the first order
day), so with no new orders a client's tier can only get worse, one day at a
time: `next_tier_change` finds the day it next does.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.domain.scoring import bgnbd, gamma_gamma
from core.domain.scoring.params import UNIT_DAYS, ModelParameters
from core.domain.scoring.rfm import segment_of
from core.domain.scoring.schema import (
    TIERS,
    ClientScore,
    ClientSummary,
    Tier,
    TierChange,
    TierPolicy,
)

DEFAULT_POLICY = TierPolicy()


@dataclass(frozen=True, slots=True)
class Scores:
    """Vectorized scoring output, aligned with the input arrays."""

    p_alive: NDArray[np.float64]
    p_order_again: NDArray[np.float64]
    baseline: NDArray[np.float64]
    expected_orders: NDArray[np.float64]
    expected_value: NDArray[np.float64]
    score: NDArray[np.int8]
    tier: NDArray[np.int8]


def tier_codes(
    p_order_again: NDArray[np.float64],
    baseline: NDArray[np.float64],
    policy: TierPolicy,
) -> NDArray[np.int8]:
    """Tier code (index into `TIERS`) from the probability and its fresh baseline."""
    ratio = np.divide(p_order_again, baseline, out=np.ones_like(p_order_again), where=baseline > 0)
    return np.asarray(
        (ratio < policy.cooling_below).astype(np.int8)
        + (ratio < policy.at_risk_below)
        + (ratio < policy.lapsed_below),
        dtype=np.int8,
    )


def score_population(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    monetary: ArrayLike,
    params: ModelParameters,
    horizon: float,
    policy: TierPolicy = DEFAULT_POLICY,
) -> Scores:
    """Score many clients at once; recency, age and `horizon` in `params.unit`."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    age_ = np.asarray(age, dtype=np.float64)
    bg = params.bgnbd
    alive = bgnbd.p_alive(bg, x, t_x, age_)
    # Same formula as bgnbd.p_order_again, reusing p_alive.
    p = alive * -np.expm1(-(bg.r + x) * np.log1p(horizon / (bg.alpha + age_)))
    baseline = bgnbd.p_order_again(bg, x, t_x, t_x, horizon)
    orders = bgnbd.expected_orders(bg, x, t_x, age_, horizon)
    value = orders * gamma_gamma.expected_order_value(
        params.gamma_gamma, x, monetary, params.mean_order_value
    )
    score = np.rint(100.0 * p).astype(np.int8)
    return Scores(alive, p, baseline, orders, value, score, tier_codes(p, baseline, policy))


def _today(now: date | datetime) -> date:
    return now.date() if isinstance(now, datetime) else now


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _reasons(client: ClientSummary, s: ClientScore, params: ModelParameters, recency_days: int) -> list[str]:
    days = s.days_since_last_order
    if client.frequency == 0:
        out = [f"one order so far, {_plural(days, 'day')} ago"]
    else:
        gap = max(round(recency_days / client.frequency), 1)
        out = [f"no order for {_plural(days, 'day')}; usually orders every {gap}"]
    out.append(
        f"{s.p_order_again:.0%} chance of ordering again in the next "
        f"{_plural(s.horizon_days, 'day')} ({s.baseline_p_order_again:.0%} right after the last order)"
    )
    if client.frequency > 0 and s.p_alive < 0.995:
        out.append(f"{s.p_alive:.0%} likely to still be a client")
    if s.segment is not None:
        out.append(f"RFM segment: {s.segment}")
    if params.is_default:
        out.append("model defaults in use until enough order history exists")
    return out


def score_client(
    client: ClientSummary,
    params: ModelParameters,
    *,
    horizon_days: int,
    now: date | datetime,
    policy: TierPolicy = DEFAULT_POLICY,
) -> ClientScore:
    """Score one client as of `now` (whole days, like the population scorer)."""
    unit = UNIT_DAYS[params.unit]
    recency_days = (client.last_order_date - client.first_order_date).days
    age_days = max((_today(now) - client.first_order_date).days, recency_days)
    s = score_population(
        [client.frequency],
        [recency_days / unit],
        [age_days / unit],
        [client.monetary_value],
        params,
        horizon_days / unit,
        policy,
    )
    segment = None
    if params.rfm is not None and client.average_value is not None:
        segment = segment_of(
            age_days - recency_days,
            client.frequency + 1,
            client.average_value,
            params.rfm,
        )
    result = ClientScore(
        score=int(s.score[0]),
        tier=TIERS[int(s.tier[0])],
        p_alive=float(s.p_alive[0]),
        p_order_again=float(s.p_order_again[0]),
        baseline_p_order_again=float(s.baseline[0]),
        expected_orders=float(s.expected_orders[0]),
        expected_value=float(s.expected_value[0]),
        segment=segment,
        days_since_last_order=age_days - recency_days,
        usual_gap_days=recency_days / client.frequency if client.frequency else None,
        horizon_days=horizon_days,
        reasons=[],
        model_version=params.model_version,
    )
    return result.model_copy(update={"reasons": _reasons(client, result, params, recency_days)})


def _future_tiers(
    client: ClientSummary,
    params: ModelParameters,
    horizon_days: int,
    today: date,
    policy: TierPolicy,
    max_days: int,
) -> NDArray[np.int8]:
    """Tier code on each day today, today+1, ..., today+max_days with no new orders."""
    unit = UNIT_DAYS[params.unit]
    bg = params.bgnbd
    recency_days = (client.last_order_date - client.first_order_date).days
    age0 = max((today - client.first_order_date).days, recency_days)
    ages = (age0 + np.arange(max_days + 1, dtype=np.float64)) / unit
    x, t_x, h = float(client.frequency), recency_days / unit, horizon_days / unit
    p = bgnbd.p_order_again(bg, x, t_x, ages, h)
    baseline = bgnbd.p_order_again(bg, x, t_x, t_x, h)
    return tier_codes(p, np.broadcast_to(baseline, p.shape), policy)


def _start_of(day: date, now: date | datetime) -> datetime:
    tz = now.tzinfo if isinstance(now, datetime) else UTC
    return datetime.combine(day, time(), tzinfo=tz)


def next_tier_change(
    client: ClientSummary,
    params: ModelParameters,
    *,
    horizon_days: int,
    now: date | datetime,
    policy: TierPolicy = DEFAULT_POLICY,
    max_days: int = 3650,
) -> TierChange | None:
    """When (start of day, in `now`'s time zone) and into which tier the client next moves.

    None if the tier stays the same for `max_days` (or the client is lapsed).
    """
    today = _today(now)
    tiers = _future_tiers(client, params, horizon_days, today, policy, max_days)
    later = np.flatnonzero(tiers > tiers[0])
    if later.size == 0:
        return None
    d = int(later[0])
    return TierChange(at=_start_of(today + timedelta(days=d), now), tier=TIERS[int(tiers[d])])


def at_risk_at(
    client: ClientSummary,
    params: ModelParameters,
    *,
    horizon_days: int,
    now: date | datetime,
    policy: TierPolicy = DEFAULT_POLICY,
    max_days: int = 3650,
) -> datetime | None:
    """Start of the first day the client is `at_risk` (or worse) with no new orders.

    `now` itself if that is already so; None if not within `max_days`.
    """
    today = _today(now)
    tiers = _future_tiers(client, params, horizon_days, today, policy, max_days)
    hits = np.flatnonzero(tiers >= TIERS.index(Tier.AT_RISK))
    if hits.size == 0:
        return None
    d = int(hits[0])
    if d == 0:
        return now if isinstance(now, datetime) else _start_of(today, now)
    return _start_of(today + timedelta(days=d), now)
