"""Property tests: every valid summary gives finite, bounded, monotone predictions."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.scoring import bgnbd, gamma_gamma
from core.domain.scoring.params import BgNbdParams, GammaGammaParams, default_parameters
from core.domain.scoring.score import score_population

PROPS = settings(max_examples=150, deadline=None)


def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


bgnbd_params = st.builds(
    BgNbdParams,
    r=_log_uniform(1e-2, 1e2),
    alpha=_log_uniform(1e-2, 1e4),
    a=_log_uniform(1e-2, 1e2),
    b=_log_uniform(1e-2, 1e2),
)
frequencies = st.one_of(st.integers(0, 3), st.integers(0, 5000))
ages = st.one_of(_log_uniform(1e-3, 1e6), st.sampled_from([1e-3, 1.0, 1e6]))
recency_shares = st.one_of(st.floats(1e-9, 1.0), st.just(1.0))
horizons = _log_uniform(1e-2, 1e4)


def _summary(x: int, age: float, share: float) -> tuple[float, float, float]:
    return float(x), (share * age if x > 0 else 0.0), age


@PROPS
@given(bgnbd_params, frequencies, ages, recency_shares, horizons)
def test_bgnbd_predictions_are_finite_probabilities(
    params: BgNbdParams, x: int, age: float, share: float, t: float
) -> None:
    xf, t_x, age_ = _summary(x, age, share)
    pa = float(bgnbd.p_alive(params, xf, t_x, age_)[()])
    p = float(bgnbd.p_order_again(params, xf, t_x, age_, t)[()])
    e = float(bgnbd.expected_orders(params, xf, t_x, age_, t)[()])
    ll = bgnbd.log_likelihood(params, [xf], [t_x], [age_])
    assert 0.0 <= p <= pa <= 1.0
    assert math.isfinite(e)
    assert math.isfinite(ll)
    if x == 0:
        assert pa == 1.0
    # At least one order is one order: E >= P(order); and orders <= Poisson arrivals.
    cap = pa * (params.r + xf) * t / (params.alpha + age_)
    assert p * (1 - 1e-6) - 1e-300 <= e <= cap * (1 + 1e-6) + 1e-300


@PROPS
@given(
    bgnbd_params,
    st.integers(1, 5000),
    ages,
    recency_shares,
    horizons,
    st.floats(1e-3, 1e3),
)
def test_bgnbd_probabilities_fall_as_silence_grows(
    params: BgNbdParams, x: int, age: float, share: float, t: float, growth: float
) -> None:
    xf, t_x, age_ = _summary(x, age, share)
    later = age_ * (1.0 + growth)
    pa = bgnbd.p_alive(params, xf, t_x, [age_, later])
    p = bgnbd.p_order_again(params, xf, t_x, [age_, later], t)
    assert pa[1] <= pa[0] + 1e-12
    assert p[1] <= p[0] + 1e-12


@PROPS
@given(
    st.builds(
        GammaGammaParams,
        p=_log_uniform(1e-2, 1e2),
        q=_log_uniform(1e-2, 1e2),
        gamma=_log_uniform(1e-2, 1e4),
    ),
    frequencies,
    _log_uniform(1e-3, 1e6),
)
def test_gamma_gamma_expected_value_is_finite_and_positive(
    params: GammaGammaParams, x: int, m: float
) -> None:
    v = gamma_gamma.expected_order_value(params, [x], [m if x else 0.0], fallback=40.0)
    assert np.isfinite(v).all()
    assert (v > 0).all()
    ll = gamma_gamma.log_likelihood(params, [max(x, 1), 2], [m, 1.0])
    assert math.isfinite(ll)


@PROPS
@given(frequencies, ages, recency_shares, _log_uniform(1e-3, 1e6), horizons)
def test_score_population_stays_in_range(x: int, age: float, share: float, m: float, t: float) -> None:
    xf, t_x, age_ = _summary(x, age, share)
    s = score_population([xf], [t_x], [age_], [m if x else 0.0], default_parameters(), t)
    assert 0 <= int(s.score[0]) <= 100
    assert 0 <= int(s.tier[0]) <= 3
    for arr in (
        s.p_alive,
        s.p_order_again,
        s.baseline,
        s.expected_orders,
        s.expected_value,
    ):
        assert np.isfinite(arr).all()
        assert (arr >= 0).all()
