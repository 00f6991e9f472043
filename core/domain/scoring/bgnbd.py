"""BG/NBD model (Fader, Hardie & Lee 2005): likelihood, fit and per-client predictions.

While alive a client orders at rate lambda ~ Gamma(r, alpha); right after each
repeat order they leave for good with probability p ~ Beta(a, b). For a client
with x repeat orders, the last at t_x, observed until T:

    L = B(a, b+x)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+T)^(r+x)
      + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+t_x)^(r+x)

The first term is "still alive at T", the second "left right after t_x". We
work in log space (gammaln, betaln, logaddexp) over log-parameters, with the
analytic gradient, on collapsed (x, t_x, T) rows.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from core.domain.scoring._numeric import dot, maximize_loglik
from core.domain.scoring.collapse import Collapsed, collapse, factorize, factorize_ints
from core.domain.scoring.errors import FitError, InsufficientDataError
from core.domain.scoring.params import BgNbdParams

_LOG_BOUND = 20.0  # parameters stay within e^-20 .. e^20


def _unpack(theta: NDArray[np.float64]) -> tuple[float, float, float, float]:
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return r, alpha, a, b


def _loglik_and_grad(theta: NDArray[np.float64], d: Collapsed) -> tuple[float, NDArray[np.float64]]:
    """Total log-likelihood and its gradient with respect to log-parameters."""
    r, alpha, a, b = _unpack(theta)
    xv, wx, n = d.x_values, d.x_weights, d.n_total
    xm1 = np.maximum(xv, 1.0) - 1.0
    b1 = special.betaln(a, b + xv)
    b2 = np.where(xv > 0, special.betaln(a + 1.0, b + xm1), -np.inf)
    l_age = np.log(alpha + d.age_values)
    l_rec = np.log(alpha + d.recency_values)

    la = l_age[d.age_idx]
    lr = l_rec[d.recency_idx]
    rx = r + d.x
    u1 = b1[d.x_idx] - rx * la
    gap = b2[d.x_idx] - rx * lr - u1  # log of (left after t_x) / (alive at T)
    w = d.weights
    ll = (
        dot(wx, special.gammaln(r + xv))
        + n * (r * math.log(alpha) - math.lgamma(r) - float(special.betaln(a, b)))
        + dot(w, u1)
        + dot(w, np.logaddexp(0.0, gap))
    )

    w2 = w * special.expit(gap)  # weight of the "left after t_x" branch
    s2 = np.bincount(d.x_idx, weights=w2, minlength=xv.size).astype(np.float64)
    s1 = wx - s2
    d_r = (
        dot(wx, special.digamma(r + xv))
        + n * (math.log(alpha) - float(special.digamma(r)))
        - dot(w, la)
        - dot(w2, lr - la)
    )
    ia = (1.0 / (alpha + d.age_values))[d.age_idx]
    ir = (1.0 / (alpha + d.recency_values))[d.recency_idx]
    d_alpha = n * r / alpha - dot(w * rx, ia) - dot(w2 * rx, ir - ia)
    psi_abx = special.digamma(a + b + xv)
    psi_ab = float(special.digamma(a + b))
    d_a = (
        -n * (float(special.digamma(a)) - psi_ab)
        + dot(s1, special.digamma(a) - psi_abx)
        + dot(s2, special.digamma(a + 1.0) - psi_abx)
    )
    d_b = (
        -n * (float(special.digamma(b)) - psi_ab)
        + dot(s1, special.digamma(b + xv) - psi_abx)
        + dot(s2, special.digamma(b + xm1) - psi_abx)
    )
    grad = np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    return ll, grad


def log_likelihood(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total (weighted) log-likelihood of the summaries under `params`."""
    theta = np.log([params.r, params.alpha, params.a, params.b])
    return _loglik_and_grad(theta, collapse(frequency, recency, age, weights))[0]


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    """Result of a maximum-likelihood fit."""

    params: BgNbdParams
    log_likelihood: float
    n_clients: float
    data: Collapsed

    def covariance_log(self) -> NDArray[np.float64]:
        """Covariance of the log-parameters: inverse observed information."""
        return covariance_log(self.params, self.data)

    def standard_errors(self) -> dict[str, float]:
        """Standard error of each parameter (delta method from log space)."""
        se = np.sqrt(np.diag(self.covariance_log()))
        values = [self.params.r, self.params.alpha, self.params.a, self.params.b]
        return {k: float(v * s) for k, v, s in zip(("r", "alpha", "a", "b"), values, se, strict=True)}


def covariance_log(params: BgNbdParams, data: Collapsed) -> NDArray[np.float64]:
    """Inverse of the observed information in log-parameters (central differences)."""
    theta = np.log([params.r, params.alpha, params.a, params.b])
    h = 1e-5
    hess = np.empty((4, 4))
    for j in range(4):
        step = np.zeros(4)
        step[j] = h
        g_plus = _loglik_and_grad(theta + step, data)[1]
        g_minus = _loglik_and_grad(theta - step, data)[1]
        hess[:, j] = (g_plus - g_minus) / (2 * h)
    info = -(hess + hess.T) / 2
    return np.asarray(np.linalg.inv(info), dtype=np.float64)


def _initial(data: Collapsed) -> NDArray[np.float64]:
    # Start at the population's mean repeat rate with r = 1 and a mild dropout.
    total_x = dot(data.weights, data.x)
    exposure = dot(data.weights, data.age_values[data.age_idx])
    rate = total_x / max(exposure, 1e-12)
    return np.log([1.0, 1.0 / max(rate, 1e-8), 1.0, 3.0])


def fit_collapsed(data: Collapsed, initial: BgNbdParams | None = None) -> BgNbdFit:
    """Maximum-likelihood fit (L-BFGS-B on log-parameters, analytic gradient)."""
    n = data.n_total
    if n <= 0 or not (data.x_weights[data.x_values > 0].sum() > 0):
        raise InsufficientDataError("BG/NBD needs at least one repeat buyer")
    theta0 = _initial(data) if initial is None else np.log([initial.r, initial.alpha, initial.a, initial.b])

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        ll, grad = _loglik_and_grad(theta, data)
        return -ll / n, -grad / n

    theta, message = maximize_loglik(objective, theta0, _LOG_BOUND)
    ll, grad = _loglik_and_grad(theta, data)
    if not (math.isfinite(ll) and np.isfinite(theta).all()):
        raise FitError(f"BG/NBD fit did not converge: {message}")
    if float(np.max(np.abs(grad))) / n > 1e-4:
        raise FitError(f"BG/NBD fit stopped away from the optimum: {message}")
    r, alpha, a, b = _unpack(theta)
    return BgNbdFit(
        params=BgNbdParams(r=r, alpha=alpha, a=a, b=b),
        log_likelihood=ll,
        n_clients=n,
        data=data,
    )


def fit(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    initial: BgNbdParams | None = None,
) -> BgNbdFit:
    """Fit BG/NBD to per-client summaries (identical rows are collapsed first)."""
    return fit_collapsed(collapse(frequency, recency, age, weights), initial)


def _arrays(*values: ArrayLike) -> list[NDArray[np.float64]]:
    return [np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(*values)]


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, age: ArrayLike) -> NDArray[np.float64]:
    """P(still a client at T | x, t_x, T); 1 for clients without repeat orders."""
    xa, ta, aa = _arrays(x, t_x, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    # log odds of "left after t_x" against "alive at T"
    odds = math.log(a) - np.log(b + np.maximum(xa, 1.0) - 1.0) + (r + xa) * np.log1p((aa - ta) / (alpha + ta))
    return np.asarray(np.where(xa > 0, special.expit(-odds), 1.0), dtype=np.float64)


def p_order_again(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, age: ArrayLike, t: ArrayLike
) -> NDArray[np.float64]:
    """P(at least one order in (T, T+t]).

    Dropout happens only right after an order, so a client alive at T places
    the first order of the window with probability 1 - exp(-lambda t); given
    alive, lambda | data ~ Gamma(r+x, alpha+T), whose Laplace transform gives
    P = P(alive) * (1 - ((alpha+T) / (alpha+T+t))^(r+x)).
    """
    xa, ta, aa, tt = _arrays(x, t_x, age, t)
    some_order = -np.expm1(-(params.r + xa) * np.log1p(tt / (params.alpha + aa)))
    return np.asarray(p_alive(params, xa, ta, aa) * some_order, dtype=np.float64)


_A_NEAR_ONE = 1e-4  # |a - 1| below this: interpolate between a = 1 -/+ this
_SERIES_LIMIT = 0.3  # power series in u = t / (alpha + T) while u and (r + x) u stay below


def _alive_series(params: BgNbdParams, x: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.float64]:
    # (1 - (1 + p u)^-s) / p = sum_k (-1)^(k+1) (s)_k / k! p^(k-1) u^k with s = r + x,
    # and E[p^j] = (a)_j / (a+b+x)_j under Beta(a, b+x). Exact for a near 1 and tiny u,
    # where the hypergeometric form cancels catastrophically.
    a, b = params.a, params.b
    s = params.r + x
    term = s * u
    total = term.copy()
    for k in range(1, 60):
        term = -term * (s + k) / (k + 1) * (a + k - 1) / (a + b + x + k - 1) * u
        total += term
    return total


def _alive_hyp2f1(
    params: BgNbdParams, a: float, x: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.float64]:
    # E = C / (a-1) * (1 - (1-z)^(r+x) 2F1(r+x, b+x; C; z)), C = a+b+x-1 (FHL eq. 10).
    # Euler's transformation (1-z)^(a-1) 2F1(a+b-1-r, a-1; C; z) of the same product keeps
    # x only in C, so large x neither overflows nor cancels; it diverges as z -> 1 when
    # a - 1 > r + x, where the textbook form converges instead.
    r, b = params.r, params.b
    am1 = a - 1.0
    c = a + b + x - 1.0
    log1m_z = -np.log1p(u)  # log(1 - z), z = t / (alpha + T + t)
    z = -np.expm1(log1m_z)
    out = np.empty_like(u)
    textbook = am1 > r + x
    e = ~textbook
    g = (special.hyp2f1(a + b - 1.0 - r, am1, c[e], z[e]) - 1.0) / am1
    w = np.exp(am1 * log1m_z[e])
    out[e] = c[e] * (-np.expm1(am1 * log1m_z[e]) / am1 - g * w)
    t = textbook
    rx = r + x[t]
    hyp = special.hyp2f1(rx, b + x[t], c[t], z[t])
    out[t] = c[t] / am1 * -np.expm1(rx * log1m_z[t] + np.log(hyp))
    return out


def _expected_if_alive(
    params: BgNbdParams, x: NDArray[np.float64], age: NDArray[np.float64], t: float
) -> NDArray[np.float64]:
    """E[orders in (T, T+t] | alive at T, history]."""
    u = t / (params.alpha + age)
    small = (u <= _SERIES_LIMIT) & ((params.r + x) * u <= _SERIES_LIMIT)
    out = np.empty_like(u)
    out[small] = _alive_series(params, x[small], u[small])
    big = ~small
    a = params.a
    if abs(a - 1.0) >= _A_NEAR_ONE:
        out[big] = _alive_hyp2f1(params, a, x[big], u[big])
    else:  # E is smooth in a: linear interpolation costs O(1e-8), 1/(a-1) would cost more
        lo = _alive_hyp2f1(params, 1.0 - _A_NEAR_ONE, x[big], u[big])
        hi = _alive_hyp2f1(params, 1.0 + _A_NEAR_ONE, x[big], u[big])
        out[big] = lo + (a - 1.0 + _A_NEAR_ONE) / (2 * _A_NEAR_ONE) * (hi - lo)
    # Never reached by the property tests or a 6M-point parameter sweep; should scipy's
    # 2F1 still fail, the no-dropout expectation (r + x) u is a finite upper bound.
    out = np.where(np.isfinite(out), out, (params.r + x) * u)
    return np.asarray(np.maximum(out, 0.0), dtype=np.float64)


def expected_orders(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, age: ArrayLike, t: float
) -> NDArray[np.float64]:
    """Expected number of orders in (T, T+t] given the client's history."""
    xa, ta, aa = _arrays(x, t_x, age)
    flat_x, flat_age = xa.ravel(), aa.ravel()
    if flat_x.size > 4096:
        # Few distinct (x, T) pairs at day resolution: evaluate 2F1 once per pair.
        xv, xi = factorize(flat_x)
        av, ai = factorize(flat_age)
        pairs, inverse = factorize_ints(xi.astype(np.int64) * av.size + ai)
        per_pair = _expected_if_alive(params, xv[pairs // av.size], av[pairs % av.size], t)
        alive_value = per_pair[inverse].reshape(xa.shape)
    else:
        alive_value = _expected_if_alive(params, flat_x, flat_age, t).reshape(xa.shape)
    return np.asarray(p_alive(params, xa, ta, aa) * alive_value, dtype=np.float64)
