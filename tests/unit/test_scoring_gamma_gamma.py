"""Gamma-Gamma spend model."""

import math

import numpy as np
import pytest

from core.domain.scoring import gamma_gamma
from core.domain.scoring.errors import InsufficientDataError
from core.domain.scoring.params import GammaGammaParams
from core.domain.scoring.simulate import simulate_monetary


def _reference_loglik(g: GammaGammaParams, x: int, m: float) -> float:
    return (
        math.lgamma(g.p * x + g.q)
        - math.lgamma(g.p * x)
        - math.lgamma(g.q)
        + g.q * math.log(g.gamma)
        + (g.p * x - 1) * math.log(m)
        + g.p * x * math.log(x)
        - (g.p * x + g.q) * math.log(g.gamma + m * x)
    )


def _repeat_buyers(n: int, truth: GammaGammaParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.geometric(0.3, n)  # 1, 2, 3, ... repeat occasions
    return x, simulate_monetary(truth, x, rng)


def test_gamma_gamma_loglik_matches_reference_implementation() -> None:
    truth = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    x, m = _repeat_buyers(3000, truth, 1)
    x = np.concatenate((x, [0, 0]))  # one-time buyers are ignored
    m = np.concatenate((m, [0.0, 0.0]))
    ours = gamma_gamma.log_likelihood(truth, x, m)
    ref = math.fsum(_reference_loglik(truth, int(a), float(b)) for a, b in zip(x[:-2], m[:-2], strict=True))
    assert ours == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(
    "truth",
    [
        GammaGammaParams(p=6.25, q=3.74, gamma=15.44),  # FHL's CDNOW estimates
        GammaGammaParams(p=0.8, q=12.0, gamma=400.0),  # very dispersed orders, tight clients
        GammaGammaParams(p=40.0, q=1.5, gamma=2.0),  # steady orders, heavy-tailed clients
    ],
)
def test_gamma_gamma_fit_recovers_parameters_within_statistical_error(
    truth: GammaGammaParams,
) -> None:
    x, m = _repeat_buyers(50_000, truth, int(truth.p * 100))
    fitted = gamma_gamma.fit(x, m)
    se = fitted.standard_errors()
    for name in ("p", "q", "gamma"):
        est, true = getattr(fitted.params, name), getattr(truth, name)
        assert abs(est - true) < 4 * se[name], (name, est, true, se[name])
        assert se[name] < 0.3 * true


def test_gamma_gamma_expected_value_shrinks_towards_population_mean() -> None:
    g = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
    prior_mean = g.p * g.gamma / (g.q - 1)
    values = gamma_gamma.expected_order_value(g, [0, 1, 10, 1000], [0.0, 100.0, 100.0, 100.0], fallback=1.0)
    assert values[0] == pytest.approx(prior_mean)
    assert prior_mean < values[1] < values[2] < values[3] < 100.0
    assert values[1] == pytest.approx(g.p * (g.gamma + 100.0) / (g.p + g.q - 1))


def test_gamma_gamma_expected_value_falls_back_without_a_finite_mean() -> None:
    g = GammaGammaParams(p=2.0, q=0.5, gamma=10.0)
    assert gamma_gamma.expected_order_value(g, [0], [0.0], fallback=33.0).tolist() == [33.0]


def test_gamma_gamma_fit_needs_repeat_buyers() -> None:
    with pytest.raises(InsufficientDataError):
        gamma_gamma.fit([0, 0, 1], [0.0, 0.0, 10.0])
