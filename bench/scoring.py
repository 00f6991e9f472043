"""Benchmark of the scoring engine, side by side with the `lifetimes` package.

For 10k, 100k and 1M simulated clients (orders at day resolution, summarised
with `core.domain.scoring.summary`): fit time (BG/NBD + Gamma-Gamma, medians of
repeats), scoring throughput (`score_population`: P(alive), P(order again),
expected orders and value, score, tier), peak traced memory; then `lifetimes`
on the same arrays for every size whose projected fit time fits the budget.
The last line is one JSON object with the headline figures.

    uv sync --group bench && .venv/bin/python bench/scoring.py [--sizes 10000,100000,1000000] [--short]

``--short`` fits 2,000 and 10,000 clients once each (a few seconds); the ``_1m`` figures are
then those of the largest size, named in ``largest_clients``.
"""

import argparse
import json
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from bench.common import parse_args
from core.domain.scoring import bgnbd, gamma_gamma
from core.domain.scoring._numeric import single_threaded_blas
from core.domain.scoring.params import BgNbdParams, GammaGammaParams, ModelParameters
from core.domain.scoring.score import score_population
from core.domain.scoring.simulate import simulate_orders
from core.domain.scoring.summary import Summary, summarize

TRUE_BGNBD = BgNbdParams(r=0.243, alpha=30.9, a=0.793, b=2.426)  # CDNOW, per day
TRUE_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
START, UNTIL = date(2023, 1, 1), date(2024, 12, 31)
HORIZON_DAYS = 90.0
PARAM_NAMES = ("r", "alpha", "a", "b", "p", "q", "gamma")


@dataclass
class Row:
    """Figures for one size."""

    n: int
    orders: int
    summary_s: float
    fit_s: float
    scores_per_s: float
    fit_cpu_s: float
    score_cpu_s: float
    fit_peak_mib: float
    score_peak_mib: float
    ours: dict[str, float]
    lifetimes_s: float | None = None
    lifetimes: dict[str, float] | None = None


CPU_SECONDS: dict[str, float] = {}
"""CPU time of the last timed call per label: shows when other load inflated the wall time."""


def _median_time(fn: Callable[[], object], repeats: int, label: str = "") -> tuple[float, Any]:
    times, cpu, result = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU_SECONDS[label] = statistics.median(cpu)
    return statistics.median(times), result


def _peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _fit_ours(s: Summary) -> dict[str, float]:
    bg = bgnbd.fit(s.frequency, s.recency, s.age).params
    gg = gamma_gamma.fit(s.frequency, s.monetary).params
    return {
        "r": bg.r,
        "alpha": bg.alpha,
        "a": bg.a,
        "b": bg.b,
        "p": gg.p,
        "q": gg.q,
        "gamma": gg.gamma,
    }


def _params(fitted: dict[str, float], s: Summary) -> ModelParameters:
    return ModelParameters(
        version=1,
        fitted_at=datetime(2025, 1, 1, tzinfo=UTC),
        n_clients=s.n_clients,
        n_repeat_buyers=int((s.frequency > 0).sum()),
        bgnbd=BgNbdParams(**{k: fitted[k] for k in ("r", "alpha", "a", "b")}),
        gamma_gamma=GammaGammaParams(**{k: fitted[k] for k in ("p", "q", "gamma")}),
        mean_order_value=float(s.average_value.mean()),
    )


def _lifetimes() -> tuple[Any, Any]:
    """lifetimes' fitters, imported once outside any timed region."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes 0.11 predates pandas 3 and numpy 2
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    return BetaGeoFitter, GammaGammaFitter


def _fit_lifetimes(s: Summary, fitters: tuple[Any, Any]) -> dict[str, float]:
    bg_fitter, gg_fitter = fitters
    # Same footing as ours: BLAS on one thread (it only slows small problems down).
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore")
        bgf = bg_fitter().fit(s.frequency, s.recency, s.age)
        repeat = s.frequency > 0
        ggf = gg_fitter().fit(s.frequency[repeat], s.monetary[repeat])
    out = {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")}
    out.update(
        {
            "p": float(ggf.params_["p"]),
            "q": float(ggf.params_["q"]),
            "gamma": float(ggf.params_["v"]),
        }
    )
    return out


def measure(n: int, repeats: int, seed: int) -> tuple[Row, Summary]:
    """Simulate n clients, then time our fit and scoring."""
    sim = simulate_orders(TRUE_BGNBD, TRUE_SPEND, n, np.random.default_rng(seed), start=START, until=UNTIL)
    summary_s, s = _median_time(
        lambda: summarize(sim.client_ids, sim.days, sim.amounts, until=UNTIL), repeats
    )
    fit_s, fitted = _median_time(lambda: _fit_ours(s), repeats, "fit")
    params = _params(fitted, s)

    def run_scoring() -> object:
        return score_population(s.frequency, s.recency, s.age, s.monetary, params, HORIZON_DAYS)

    score_s, _ = _median_time(run_scoring, max(repeats, 5), "score")
    row = Row(
        n=n,
        orders=int(sim.days.size),
        summary_s=summary_s,
        fit_s=fit_s,
        scores_per_s=n / score_s,
        fit_cpu_s=CPU_SECONDS["fit"],
        score_cpu_s=CPU_SECONDS["score"],
        fit_peak_mib=_peak_mib(lambda: _fit_ours(s)),
        score_peak_mib=_peak_mib(run_scoring),
        ours=fitted,
    )
    return row, s


def _rel_diff(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in PARAM_NAMES)


def _print_row(row: Row) -> None:
    print(
        f"{row.n:>9,} clients {row.orders:>10,} orders | summary {row.summary_s:6.3f} s | "
        f"fit {row.fit_s:6.3f} s (cpu {row.fit_cpu_s:.3f}) | "
        f"scoring {row.scores_per_s / 1e6:6.2f} M clients/s (cpu {row.n / row.score_cpu_s / 1e6:.2f}) | "
        f"peak fit {row.fit_peak_mib:6.1f} MiB, scoring {row.score_peak_mib:6.1f} MiB"
    )
    print("          ours      " + "  ".join(f"{k}={row.ours[k]:.6g}" for k in PARAM_NAMES))
    if row.lifetimes is not None and row.lifetimes_s is not None:
        print("          lifetimes " + "  ".join(f"{k}={row.lifetimes[k]:.6g}" for k in PARAM_NAMES))
        print(
            f"          lifetimes fit {row.lifetimes_s:.3f} s: {row.lifetimes_s / row.fit_s:.1f}x our time; "
            f"max relative parameter difference {_rel_diff(row.ours, row.lifetimes):.2e}"
        )
    else:
        print("          lifetimes skipped (projected time over the budget)")


def main() -> None:
    """Run the benchmark and print the figures, JSON last."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--lifetimes-budget",
        type=float,
        default=120.0,
        help="seconds per lifetimes fit",
    )
    ap.add_argument("--seed", type=int, default=2024)
    args = parse_args(ap, sizes="2000,10000", repeats=1)
    sizes = sorted(int(v) for v in args.sizes.split(","))
    print(f"BG/NBD truth {TRUE_BGNBD!r}, spend {TRUE_SPEND!r}; calibration {START} .. {UNTIL}")
    fitters = _lifetimes()
    rows: list[Row] = []
    per_client_lifetimes: float | None = None
    for n in sizes:
        row, s = measure(n, args.repeats, args.seed + n)
        projected = None if per_client_lifetimes is None else per_client_lifetimes * n
        if projected is None or projected <= args.lifetimes_budget:
            t0 = time.perf_counter()
            row.lifetimes = _fit_lifetimes(s, fitters)
            row.lifetimes_s = time.perf_counter() - t0
            per_client_lifetimes = row.lifetimes_s / n * 1.2
        rows.append(row)
        _print_row(row)
    largest = rows[-1]
    common = [r for r in rows if r.lifetimes is not None][-1]
    assert common.lifetimes is not None
    assert common.lifetimes_s is not None
    print(f"lifetimes compared on {common.n:,} clients (largest size it ran within the budget)")
    print(
        json.dumps(
            {
                "fit_seconds_1m": round(largest.fit_s, 4),
                "scores_per_second_1m": round(largest.scores_per_s),
                "lifetimes_time_ratio": round(common.lifetimes_s / common.fit_s, 2),
                "max_param_rel_diff": float(f"{_rel_diff(common.ours, common.lifetimes):.3e}"),
                "largest_clients": largest.n,
            }
        )
    )


if __name__ == "__main__":
    main()
