"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV").

A client's order values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across
clients; the mean m of x repeat occasions then has the density

    f(m | x) = G(p x + q) / (G(p x) G(q)) * gamma^q * m^(p x - 1) * x^(p x)
               / (gamma + m x)^(p x + q)

fitted over repeat buyers (x >= 1, m > 0) as in `lifetimes`. Expected order
value given (x, m): p (gamma + m x) / (p x + q - 1).
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from core.domain.scoring._numeric import dot, maximize_loglik
from core.domain.scoring.collapse import factorize
from core.domain.scoring.errors import FitError, InsufficientDataError
from core.domain.scoring.params import GammaGammaParams

_LOG_BOUND = 20.0


@dataclass(frozen=True, slots=True)
class SpendData:
    """Repeat buyers' (x, m) with per-x tables and the likelihood's constant sums."""

    x_values: NDArray[np.float64]
    x_idx: NDArray[np.intp]
    x_weights: NDArray[np.float64]
    x: NDArray[np.float64]
    mx: NDArray[np.float64]
    sum_x_log_m: float
    sum_log_m: float
    sum_x_log_x: float
    sum_x: float

    @property
    def n(self) -> int:
        """Number of repeat buyers."""
        return int(self.x.size)


def spend_data(frequency: ArrayLike, monetary: ArrayLike) -> SpendData:
    """Keep repeat buyers with positive spend and precompute what does not depend on params."""
    x_all = np.asarray(frequency, dtype=np.float64)
    m_all = np.asarray(monetary, dtype=np.float64)
    keep = (x_all > 0) & (m_all > 0) & np.isfinite(m_all)
    x, m = x_all[keep], m_all[keep]
    xv, xi = factorize(x)
    log_m = np.log(m)
    return SpendData(
        x_values=xv,
        x_idx=xi,
        x_weights=np.bincount(xi, minlength=xv.size).astype(np.float64),
        x=x,
        mx=m * x,
        sum_x_log_m=dot(x, log_m),
        sum_log_m=float(log_m.sum()),
        sum_x_log_x=dot(x, np.log(np.maximum(x, 1.0))),
        sum_x=float(x.sum()),
    )


def _loglik_and_grad(theta: NDArray[np.float64], d: SpendData) -> tuple[float, NDArray[np.float64]]:
    p, q, gamma = (float(v) for v in np.exp(theta))
    n = d.n
    px = p * d.x_values
    lg = np.log(gamma + d.mx)
    sum_lg = float(lg.sum())
    sum_x_lg = dot(d.x, lg)
    ll = (
        dot(d.x_weights, special.gammaln(px + q) - special.gammaln(px))
        - n * math.lgamma(q)
        + n * q * math.log(gamma)
        + p * d.sum_x_log_m
        - d.sum_log_m
        + p * d.sum_x_log_x
        - p * sum_x_lg
        - q * sum_lg
    )
    psi_pxq = special.digamma(px + q)
    d_p = (
        dot(d.x_weights * d.x_values, psi_pxq - special.digamma(px))
        + d.sum_x_log_m
        + d.sum_x_log_x
        - sum_x_lg
    )
    d_q = dot(d.x_weights, psi_pxq) - n * float(special.digamma(q)) + n * math.log(gamma) - sum_lg
    inv = 1.0 / (gamma + d.mx)
    d_gamma = n * q / gamma - p * dot(d.x, inv) - q * float(inv.sum())
    return ll, np.array([p * d_p, q * d_q, gamma * d_gamma])


def log_likelihood(params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike) -> float:
    """Total log-likelihood over the repeat buyers with positive spend."""
    theta = np.log([params.p, params.q, params.gamma])
    return _loglik_and_grad(theta, spend_data(frequency, monetary))[0]


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    """Result of a maximum-likelihood fit."""

    params: GammaGammaParams
    log_likelihood: float
    n_clients: int
    data: SpendData

    def standard_errors(self) -> dict[str, float]:
        """Standard error of each parameter from the observed information."""
        theta = np.log([self.params.p, self.params.q, self.params.gamma])
        h = 1e-5
        hess = np.empty((3, 3))
        for j in range(3):
            step = np.zeros(3)
            step[j] = h
            hess[:, j] = (
                _loglik_and_grad(theta + step, self.data)[1] - _loglik_and_grad(theta - step, self.data)[1]
            ) / (2 * h)
        cov = np.linalg.inv(-(hess + hess.T) / 2)
        se = np.exp(theta) * np.sqrt(np.diag(cov))
        return {k: float(s) for k, s in zip(("p", "q", "gamma"), se, strict=True)}


def fit(
    frequency: ArrayLike,
    monetary: ArrayLike,
    *,
    initial: GammaGammaParams | None = None,
) -> GammaGammaFit:
    """Fit Gamma-Gamma over clients with frequency >= 1 and monetary > 0."""
    d = spend_data(frequency, monetary)
    if d.n < 2:
        raise InsufficientDataError("Gamma-Gamma needs repeat buyers with positive spend")
    if initial is None:
        mean_m = float(d.mx.sum() / d.sum_x)
        theta0 = np.log([1.0, 2.0, mean_m])  # prior mean p*gamma/(q-1) = observed mean
    else:
        theta0 = np.log([initial.p, initial.q, initial.gamma])

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        ll, grad = _loglik_and_grad(theta, d)
        return -ll / d.n, -grad / d.n

    theta, message = maximize_loglik(objective, theta0, _LOG_BOUND)
    ll, grad = _loglik_and_grad(theta, d)
    if not (math.isfinite(ll) and np.isfinite(theta).all()) or float(np.abs(grad).max()) / d.n > 1e-4:
        raise FitError(f"Gamma-Gamma fit did not converge: {message}")
    p, q, gamma = (float(v) for v in np.exp(theta))
    return GammaGammaFit(GammaGammaParams(p=p, q=q, gamma=gamma), ll, d.n, d)


def expected_order_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike, fallback: float
) -> NDArray[np.float64]:
    """E[order value | x, m]; `fallback` where the model has no finite mean (x = 0, q <= 1)."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    p, q, gamma = params.p, params.q, params.gamma
    denom = p * x + q - 1.0
    value = p * (gamma + m * x) / np.where(denom > 0, denom, 1.0)
    return np.asarray(np.where(denom > 0, value, fallback), dtype=np.float64)
