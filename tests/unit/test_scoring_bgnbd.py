"""BG/NBD: likelihood, parameter recovery and predictions checked by simulation."""

import math

import numpy as np
import pytest
from scipy import integrate

from core.domain.scoring import bgnbd
from core.domain.scoring.collapse import collapse
from core.domain.scoring.errors import InsufficientDataError
from core.domain.scoring.params import BgNbdParams
from core.domain.scoring.simulate import SimulatedClients, simulate_bgnbd

CDNOW = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)

# (parameters, observation ages T) from typical to extreme
RECOVERY_CASES = {
    "cdnow_weeks": (CDNOW, (20.0, 80.0)),
    "daily_subscribers": (BgNbdParams(r=2.0, alpha=60.0, a=1.5, b=20.0), (30.0, 730.0)),
    "leave_after_first_repeat": (
        BgNbdParams(r=0.6, alpha=2.0, a=6.0, b=0.8),
        (5.0, 60.0),
    ),
    "heavy_buyers_large_counts": (
        BgNbdParams(r=8.0, alpha=2.0, a=0.3, b=30.0),
        (10.0, 100.0),
    ),
    "sparse_rare_buyers": (BgNbdParams(r=0.08, alpha=0.3, a=0.2, b=0.5), (50.0, 500.0)),
}


def _reference_loglik(p: BgNbdParams, x: int, t_x: float, age: float) -> float:
    """FHL (2005) eq. 6 evaluated term by term with the math module."""

    def lbeta(u: float, v: float) -> float:
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    common = math.lgamma(p.r + x) - math.lgamma(p.r) + p.r * math.log(p.alpha)
    alive = math.exp(lbeta(p.a, p.b + x) - lbeta(p.a, p.b) + common - (p.r + x) * math.log(p.alpha + age))
    left = 0.0
    if x > 0:
        left = math.exp(
            lbeta(p.a + 1, p.b + x - 1) - lbeta(p.a, p.b) + common - (p.r + x) * math.log(p.alpha + t_x)
        )
    return math.log(alive + left)


def test_bgnbd_loglik_matches_reference_implementation() -> None:
    rng = np.random.default_rng(11)
    sim = simulate_bgnbd(CDNOW, rng.uniform(1.0, 60.0, 4000), rng)
    for params in (CDNOW, BgNbdParams(r=1.3, alpha=9.0, a=2.5, b=0.7)):
        ours = bgnbd.log_likelihood(params, sim.frequency, sim.recency, sim.age)
        ref = math.fsum(
            _reference_loglik(params, int(x), float(t), float(a))
            for x, t, a in zip(sim.frequency, sim.recency, sim.age, strict=True)
        )
        assert ours == pytest.approx(ref, rel=1e-6)
        assert abs(ours - ref) / abs(ref) < 1e-9


def test_bgnbd_collapsed_weights_give_the_same_loglik() -> None:
    x = np.array([0, 0, 2, 2, 2, 5])
    t_x = np.array([0.0, 0.0, 3.0, 3.0, 3.0, 7.0])
    age = np.array([10.0, 10.0, 8.0, 8.0, 8.0, 9.0])
    full = bgnbd.log_likelihood(CDNOW, x, t_x, age)
    weighted = bgnbd.log_likelihood(CDNOW, [0, 2, 5], [0.0, 3.0, 7.0], [10.0, 8.0, 9.0], [2, 3, 1])
    assert full == pytest.approx(weighted, rel=1e-13)
    assert collapse(x, t_x, age).weights.tolist() == [2.0, 3.0, 1.0]


def test_bgnbd_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(12)
    sim = simulate_bgnbd(CDNOW, rng.uniform(1.0, 60.0, 3000), rng)
    data = collapse(sim.frequency, sim.recency, sim.age)
    theta = np.log([0.5, 3.0, 1.2, 1.7])
    _, grad = bgnbd._loglik_and_grad(theta, data)
    h = 1e-6
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        num = (bgnbd._loglik_and_grad(theta + e, data)[0] - bgnbd._loglik_and_grad(theta - e, data)[0]) / (
            2 * h
        )
        assert grad[j] == pytest.approx(num, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("case", sorted(RECOVERY_CASES))
def test_bgnbd_fit_recovers_parameters_within_statistical_error(case: str) -> None:
    truth, (lo, hi) = RECOVERY_CASES[case]
    rng = np.random.default_rng(sorted(RECOVERY_CASES).index(case) + 100)
    sim = simulate_bgnbd(truth, rng.uniform(lo, hi, 60_000), rng)
    fitted = bgnbd.fit(sim.frequency, sim.recency, sim.age)
    se_log = np.sqrt(np.diag(fitted.covariance_log()))
    est = np.log([fitted.params.r, fitted.params.alpha, fitted.params.a, fitted.params.b])
    true = np.log([truth.r, truth.alpha, truth.a, truth.b])
    z = (est - true) / se_log
    assert np.all(np.abs(z) < 4.0), f"{case}: z={z}, se_log={se_log}"
    assert np.all(se_log < 0.35), f"{case}: data too weak to test anything: {se_log}"


def test_bgnbd_fit_needs_a_repeat_buyer() -> None:
    with pytest.raises(InsufficientDataError):
        bgnbd.fit([0, 0, 0], [0, 0, 0], [5, 6, 7])


def test_bgnbd_p_alive_closed_form() -> None:
    p = BgNbdParams(r=0.5, alpha=2.0, a=1.0, b=3.0)
    expected = 1.0 / (1.0 + 1.0 / (3.0 + 2 - 1) * ((2.0 + 10.0) / (2.0 + 4.0)) ** 2.5)
    assert bgnbd.p_alive(p, 2, 4.0, 10.0)[()] == pytest.approx(expected, rel=1e-13)
    assert bgnbd.p_alive(p, 0, 0.0, 50.0)[()] == 1.0


def _expected_orders_by_quadrature(p: BgNbdParams, x: int, t_x: float, age: float, t: float) -> float:
    # E[(1/p)(1 - exp(-lambda p t))] over the posterior given alive, times P(alive).
    def integrand(lam: float, q: float) -> float:
        dens = math.exp(
            (p.r + x) * math.log(p.alpha + age)
            + (p.r + x - 1) * math.log(lam)
            - lam * (p.alpha + age)
            - math.lgamma(p.r + x)
            + (p.a - 1) * math.log(q)
            + (p.b + x - 1) * math.log1p(-q)
            - (math.lgamma(p.a) + math.lgamma(p.b + x) - math.lgamma(p.a + p.b + x))
        )
        return dens * -math.expm1(-lam * q * t) / q

    val, _ = integrate.dblquad(integrand, 0.0, 1.0, 0.0, 60.0 / (p.alpha + age) * (p.r + x + 5), epsrel=1e-9)
    return float(val) * float(bgnbd.p_alive(p, x, t_x, age)[()])


@pytest.mark.parametrize(
    ("params", "x", "t_x", "age", "t"),
    [
        (CDNOW, 2, 30.0, 38.0, 39.0),
        (
            BgNbdParams(r=1.5, alpha=20.0, a=1.0, b=4.0),
            3,
            50.0,
            90.0,
            90.0,
        ),  # a = 1 exactly
        (BgNbdParams(r=2.0, alpha=30.0, a=2.5, b=1.5), 0, 0.0, 10.0, 60.0),
    ],
)
def test_bgnbd_expected_orders_matches_numerical_integration(
    params: BgNbdParams, x: int, t_x: float, age: float, t: float
) -> None:
    ours = float(bgnbd.expected_orders(params, x, t_x, age, t)[()])
    assert ours == pytest.approx(_expected_orders_by_quadrature(params, x, t_x, age, t), rel=1e-5)


def _grouped_z(pred: np.ndarray, actual: np.ndarray, var: np.ndarray, groups: np.ndarray) -> list[float]:
    out = []
    for g in np.unique(groups):
        m = groups == g
        out.append(float((actual[m].sum() - pred[m].sum()) / math.sqrt(var[m].sum())))
    return out


@pytest.fixture(scope="module")
def future_window() -> tuple[BgNbdParams, float, SimulatedClients]:
    truth = BgNbdParams(r=0.9, alpha=12.0, a=0.8, b=3.0)
    rng = np.random.default_rng(21)
    horizon = 30.0
    sim = simulate_bgnbd(truth, rng.uniform(10.0, 200.0, 200_000), rng, horizon=horizon)
    return truth, horizon, sim


def _groups(sim: SimulatedClients) -> np.ndarray:
    x = sim.frequency
    silence = sim.age - sim.recency
    return np.minimum(x, 4) * 10 + np.digitize(silence, [20.0, 60.0, 120.0])


def test_bgnbd_p_order_again_matches_monte_carlo(
    future_window: tuple[BgNbdParams, float, SimulatedClients],
) -> None:
    truth, horizon, sim = future_window
    p = bgnbd.p_order_again(truth, sim.frequency, sim.recency, sim.age, horizon)
    ordered = (sim.future_orders > 0).astype(float)
    z = _grouped_z(p, ordered, p * (1 - p), _groups(sim))
    assert max(abs(v) for v in z) < 4.0, z


def test_bgnbd_p_alive_matches_monte_carlo(
    future_window: tuple[BgNbdParams, float, SimulatedClients],
) -> None:
    truth, _, sim = future_window
    pa = bgnbd.p_alive(truth, sim.frequency, sim.recency, sim.age)
    alive = sim.alive.astype(float)
    z = _grouped_z(pa, alive, np.maximum(pa * (1 - pa), 1e-12), _groups(sim))
    assert max(abs(v) for v in z) < 4.0, z


def test_bgnbd_expected_orders_matches_monte_carlo(
    future_window: tuple[BgNbdParams, float, SimulatedClients],
) -> None:
    truth, horizon, sim = future_window
    e = bgnbd.expected_orders(truth, sim.frequency, sim.recency, sim.age, horizon)
    actual = sim.future_orders.astype(float)
    groups = _groups(sim)
    var = np.empty_like(e)
    for g in np.unique(groups):
        m = groups == g
        var[m] = actual[m].var(ddof=1)
    z = _grouped_z(e, actual, var, groups)
    assert max(abs(v) for v in z) < 4.0, z
