"""Order histories drawn from the BG/NBD process and Gamma-Gamma spend.

Used by tests (parameter recovery, Monte Carlo checks), the benchmark and the
demo. Everything is vectorized and driven by a caller's numpy Generator.

Per client: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b). Repeat orders arrive
as a Poisson process; after the n-th repeat order the client leaves with
probability p, so the number of repeat orders before leaving is N ~ Geometric(p).
With M ~ Poisson(lambda T) arrivals in (0, T], x = min(M, N), and the x order
times are the first x order statistics of M uniforms on (0, T].
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.domain.scoring.params import BgNbdParams, GammaGammaParams
from core.domain.scoring.summary import day_number

_P_FLOOR = 1e-12  # Beta draws can underflow to 0; Geometric needs p > 0


@dataclass(frozen=True, slots=True)
class SimulatedClients:
    """Latent traits, the observed summary at T and (optionally) the next window."""

    rate: NDArray[np.float64]
    dropout: NDArray[np.float64]
    frequency: NDArray[np.int64]
    recency: NDArray[np.float64]
    age: NDArray[np.float64]
    alive: NDArray[np.bool_]
    future_orders: NDArray[np.int64]


def _latent(
    params: BgNbdParams, ages: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    n = ages.size
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = np.maximum(rng.beta(params.a, params.b, n), _P_FLOOR)
    leave_after = rng.geometric(dropout)
    arrivals = rng.poisson(rate * ages)
    return rate, dropout, leave_after, arrivals


def simulate_bgnbd(
    params: BgNbdParams,
    age: ArrayLike,
    rng: np.random.Generator,
    horizon: float = 0.0,
) -> SimulatedClients:
    """Continuous-time summaries (x, t_x, T) for clients observed for `age` each."""
    ages = np.asarray(age, dtype=np.float64).ravel()
    rate, dropout, leave_after, arrivals = _latent(params, ages, rng)
    x = np.minimum(arrivals, leave_after)
    # x-th smallest of M uniforms on (0, T] ~ T * Beta(x, M - x + 1)
    has = x > 0
    recency = np.zeros_like(ages)
    recency[has] = ages[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    alive = arrivals < leave_after
    future = np.zeros_like(x)
    if horizon > 0:
        window = rng.poisson(rate * horizon)
        future = np.where(alive, np.minimum(window, leave_after - x), 0)
    return SimulatedClients(rate, dropout, x.astype(np.int64), recency, ages, alive, future)


def simulate_monetary(
    params: GammaGammaParams, frequency: ArrayLike, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Mean of x repeat order values per client (0 where x = 0)."""
    x = np.asarray(frequency, dtype=np.int64)
    nu = rng.gamma(params.q, 1.0 / params.gamma, x.size)
    # The sum of x Gamma(p, nu) values is Gamma(p x, nu).
    total = rng.gamma(np.maximum(params.p * x, 1e-300), 1.0 / nu)
    return np.asarray(np.where(x > 0, total / np.maximum(x, 1), 0.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SimulatedOrders:
    """Order rows (client id, day number since 1970-01-01, amount) and the truth."""

    client_ids: NDArray[np.int64]
    days: NDArray[np.int64]
    amounts: NDArray[np.float64]
    clients: SimulatedClients

    def ordered_at(self) -> NDArray[np.datetime64]:
        """Order days as datetime64[D]."""
        return self.days.astype("datetime64[D]")


def simulate_orders(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    n_clients: int,
    rng: np.random.Generator,
    *,
    start: date,
    until: date,
) -> SimulatedOrders:
    """Order rows for clients whose first order falls uniformly in [start, until].

    Parameters are per day. Orders are placed in continuous time and bucketed
    into calendar days, so several orders may share a day (as in real exports).
    """
    first = day_number(start) + rng.uniform(0.0, day_number(until) - day_number(start) + 1, n_clients)
    ages = day_number(until) + 1 - first
    rate, dropout, leave_after, arrivals = _latent(bgnbd, ages, rng)
    x = np.minimum(arrivals, leave_after)
    # First x of M sorted uniforms: cumulative exponentials over the total of M + 1.
    gaps = rng.exponential(1.0, int(x.sum()))
    owner = np.repeat(np.arange(n_clients), x)
    csum = np.cumsum(gaps)
    seg_start = np.cumsum(x) - x
    offset = np.concatenate(([0.0], csum))[seg_start]
    partial = csum - offset[owner]
    last_partial = np.zeros(n_clients)
    has = x > 0
    last_partial[has] = partial[seg_start[has] + x[has] - 1]
    remainder = rng.gamma(np.maximum(arrivals - x + 1, 1).astype(np.float64), 1.0)
    total = last_partial + remainder
    times = first[owner] + ages[owner] * partial / total[owner]

    nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.gamma, n_clients)
    ids = np.concatenate((np.arange(n_clients), owner))
    when = np.concatenate((first, times))
    amounts = rng.gamma(gamma_gamma.p, 1.0 / nu[ids])
    clients = SimulatedClients(
        rate=rate,
        dropout=dropout,
        frequency=x.astype(np.int64),
        recency=ages * last_partial / total,
        age=ages,
        alive=arrivals < leave_after,
        future_orders=np.zeros(0, dtype=np.int64),
    )
    return SimulatedOrders(ids.astype(np.int64), np.floor(when).astype(np.int64), amounts, clients)
