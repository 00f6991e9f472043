"""Numeric helpers shared by the likelihoods."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from threadpoolctl import threadpool_limits


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS/LAPACK on one thread for the enclosed small-matrix work.

    The optimizer's 4x4 algebra gains nothing from threads, and OpenBLAS's
    spinning workers made a 10k-client fit ten times slower on a busy 2-core host.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Inner product of two 1-D arrays without BLAS.

    einsum's own loop is single-threaded; BLAS ddot may start threads that
    spin, which costs 100x more than the product itself on a busy 2-core host.
    """
    return float(np.einsum("i,i->", a, b))


Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


def newton_polish(
    objective: Objective,
    theta: NDArray[np.float64],
    *,
    max_steps: int = 5,
    gtol: float = 1e-11,
) -> NDArray[np.float64]:
    """Finish a quasi-Newton minimum with Newton steps (Hessian from gradient differences).

    L-BFGS-B can stop on a failed line search in the flat, correlated valleys of
    these likelihoods (Gamma-Gamma's p, q, gamma); a few Newton steps pin the
    optimum down to ~1e-10 so that refits on reordered data agree.
    """
    f, g = objective(theta)
    for _ in range(max_steps):
        if float(np.max(np.abs(g))) < gtol:
            break
        hess = np.empty((theta.size, theta.size))
        for j in range(theta.size):
            e = np.zeros(theta.size)
            e[j] = 1e-6
            hess[:, j] = (objective(theta + e)[1] - objective(theta - e)[1]) / 2e-6
        try:
            chol = np.linalg.cholesky((hess + hess.T) / 2)
        except np.linalg.LinAlgError:
            break
        step = np.linalg.solve(chol.T, np.linalg.solve(chol, g))
        candidate = theta - step
        f_new, g_new = objective(candidate)
        # Near the optimum f changes below its rounding noise: judge by the gradient.
        worse = f_new > f + 1e-12 * max(abs(f), 1.0)
        if not np.isfinite(f_new) or worse or np.max(np.abs(g_new)) >= np.max(np.abs(g)):
            break
        theta, f, g = candidate, f_new, g_new
    return theta


def maximize_loglik(
    objective: Objective, theta0: NDArray[np.float64], bound: float
) -> tuple[NDArray[np.float64], str]:
    """Minimise a mean negative log-likelihood over log-parameters in [-bound, bound].

    L-BFGS-B with the analytic gradient, then a Newton polish; returns the
    optimum and the optimizer's message.
    """
    with single_threaded_blas():
        res = optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-bound, bound)] * theta0.size,
            options={"maxiter": 5000, "maxcor": 20, "ftol": 1e-15, "gtol": 1e-10},
        )
        theta = newton_polish(objective, np.asarray(res.x, dtype=np.float64))
    return np.clip(theta, -bound, bound), str(res.message)
