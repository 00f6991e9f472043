"""The nightly model refit at a million clients: load every order from the database, fit, store.

Seeds a migrated database (a temporary SQLite file, or a throwaway database on the PostgreSQL
server of ``--database-url``) with ``--clients`` simulated clients (BG/NBD + Gamma-Gamma, first
orders uniform over 2019-01-01..2026-11-30: about 3.9 orders each, so ~3.9M orders for a
million), then runs the refit's two activities (``fit_model``: keyset batches of
``--batch-size`` orders into compact arrays, then the fit in a thread; ``store_model_parameters``)
in a fresh child process, so its peak RSS is the refit's alone. ``--repeat`` refits run one after
another; the figures are their medians. The push to running client workflows that follows a
stored version is the policy rollout (``bench/policy_rollout.py``), not timed here.

    .venv/bin/python bench/refit.py [--clients 1000000] [--database-url postgresql+psycopg://…] [--short]

Prints the phases per run, then as its last line
``{"clients", "orders", "seconds", "peak_rss_mb", ...}``. Target: < 60 s and < 2 GiB at a
million clients. Loopback only; bounded by ``--timeout``. ``--short``: 20,000 clients, one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse_args  # noqa: E402
from bench.dashboard import database, database_backend  # noqa: E402
from core.domain.scoring.params import BgNbdParams, GammaGammaParams  # noqa: E402
from core.domain.scoring.simulate import simulate_orders  # noqa: E402
from core.store.models import Client, Order  # noqa: E402

TRUE_BGNBD = BgNbdParams(r=0.243, alpha=30.9, a=0.793, b=2.426)  # CDNOW, per day
TRUE_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
FIRST, UNTIL = date(2019, 1, 1), date(2026, 11, 30)
SEED_BATCH = 50_000  # clients per insert round
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 2048.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seed(url: str, n_clients: int) -> int:
    """Bulk-insert the simulated clients and their orders; returns the order count."""
    sim = simulate_orders(
        TRUE_BGNBD, TRUE_SPEND, n_clients, np.random.default_rng(7), start=FIRST, until=UNTIL
    )
    order = np.argsort(sim.client_ids, kind="stable")
    owners, days = sim.client_ids[order], sim.days[order]
    cents = np.maximum(np.round(sim.amounts[order] * 100), 1).astype(np.int64)
    bounds = np.searchsorted(owners, np.arange(0, n_clients + SEED_BATCH, SEED_BATCH))
    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        for chunk, lo in enumerate(range(0, n_clients, SEED_BATCH)):
            hi = min(lo + SEED_BATCH, n_clients)
            at = slice(bounds[chunk], bounds[chunk + 1])
            # Day numbers count from 1970-01-01 (core.domain.scoring.summary.day_number): midnight UTC.
            when = [EPOCH + timedelta(days=d) for d in days[at].tolist()]
            conn.execute(
                insert(Client),
                [
                    {
                        "id": f"r-{i}",
                        "order_count": 0,
                        "total_spend_minor": 0,
                        "holdout": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(lo, hi)
                ],
            )
            conn.execute(
                insert(Order),
                [
                    {
                        "order_id": f"r-{owner}-{n}",
                        "client_id": f"r-{owner}",
                        "placed_at": placed,
                        "amount_minor": int(amount),
                        "currency": "USD",
                        "items": [],
                        "recorded_at": now,
                    }
                    for n, (owner, placed, amount) in enumerate(
                        zip(owners[at].tolist(), when, cents[at].tolist(), strict=True),
                        start=int(bounds[chunk]),
                    )
                ],
            )
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return len(owners)


async def _refit(url: str, batch_size: int) -> dict[str, Any]:
    """One refit through the activities, as the refit workflow runs them (child process)."""
    from temporalio.testing import ActivityEnvironment

    from activities.refit import RefitActivities
    from core.contracts.model import FitModelInput, StoreModelInput
    from core.runtime.settings import DatabaseSettings
    from core.store.db import async_url, session_factory
    from core.store.db import create_engine as create_async_engine

    engine = create_async_engine(DatabaseSettings(url=async_url(url)))
    activities = RefitActivities(session_factory(engine))
    env = ActivityEnvironment()
    now = datetime.now(UTC)
    started = time.perf_counter()
    fitted = await env.run(
        activities.fit_model,
        FitModelInput(calibration_end=UNTIL, unit="days", fitted_at=now, batch_size=batch_size),
    )
    fit_done = time.perf_counter()
    stored = await env.run(
        activities.store_model_parameters,
        StoreModelInput(parameters=fitted.parameters, refit_id=f"bench/{now.isoformat()}"),
    )
    done = time.perf_counter()
    await engine.dispose()
    return {
        "seconds": round(done - started, 2),
        "fit_seconds": round(fit_done - started, 2),
        "store_seconds": round(done - fit_done, 3),
        "orders": fitted.n_orders,
        "clients": fitted.parameters.n_clients,
        "version": stored.version,
        "default": fitted.parameters.is_default,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def refit_in_child(url: str, batch_size: int, timeout: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, "--batch-size", str(batch_size)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "REKINDLE_LOGGING__LEVEL": "WARNING"},
    )
    if out.returncode != 0:
        raise SystemExit(f"refit failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--batch-size", type=int, default=250_000, help="orders per keyset batch (the setting's default)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to run on (a throwaway database is created there); default SQLite",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one refit may take")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parse_args(parser, clients=20_000, repeat=1, timeout=180)
    if args.child:
        print(json.dumps(asyncio.run(_refit(args.child, args.batch_size))))
        return
    backend = database_backend(parser, args.database_url)
    with database(args.database_url) as url:
        started = time.perf_counter()
        orders = seed(url, args.clients)
        seeded = time.perf_counter() - started
        print(f"{backend}: seeded {args.clients:,} clients and {orders:,} orders in {seeded:.1f} s")
        runs = []
        for n in range(args.repeat):
            run = refit_in_child(url, args.batch_size, args.timeout)
            runs.append(run)
            print(
                f"refit {n + 1}: {run['seconds']:.1f} s (load and fit {run['fit_seconds']:.1f} s, "
                f"store {run['store_seconds']:.2f} s), {run['orders']:,} orders of "
                f"{run['clients']:,} clients, stored as version {run['version']}, "
                f"peak RSS {run['peak_rss_mb']:.0f} MB"
            )
    seconds = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    met = seconds < TARGET_SECONDS and rss < TARGET_RSS_MB
    print(
        f"median of {len(runs)}: {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s), peak RSS {rss:.0f} MB "
        f"(target < {TARGET_RSS_MB:.0f} MB): {'met' if met else 'NOT met'}"
    )
    figures = {
        "clients": args.clients,
        "orders": orders,
        "seconds": seconds,
        "peak_rss_mb": rss,
        "fit_seconds": statistics.median(r["fit_seconds"] for r in runs),
        "runs": len(runs),
        "database": backend,
        "target_met": met,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
