"""Backfill at full size: 20,000 orders for 5,000 clients through ``rekindle import``.

Starts a Temporal dev server (in memory), a migrated SQLite database and a worker
(``python -m worker``) in their own processes; writes an export (half the rows with
an ``order_id``, half relying on the derived id); runs ``rekindle import``, kills it
with SIGKILL part-way, runs it again to completion, then waits until the workers
have recorded everything and checks that every order is in the database exactly
once. Loopback only; stops by itself (bounded by --timeout).

    .venv/bin/python bench/backfill.py [--orders 20000] [--clients 5000] [--short]

The import sends each client's history as one message (``orders_imported``), so the figures
are per client: ``import_seconds`` until Temporal acknowledged every client (both runs),
``recorded_seconds`` until the workers had written every order, and the rates from those.

``--short``: 600 orders for 150 clients; the killed run sends one client at a time and is
killed once past 20 clients, so the kill lands part-way through on a quiet machine too (its
checkpoint is written every 0.5 s). About a minute on a loaded machine; bounded at 180 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse_args, worker_env  # noqa: E402
from cli.importer import Row, read_rows  # noqa: E402
from core.domain.search_attributes import ALL as SEARCH_ATTRIBUTES  # noqa: E402
from core.runtime.client_workflow import send_order  # noqa: E402
from core.runtime.codec import new_key  # noqa: E402
from core.runtime.settings import DatabaseSettings, SecuritySettings, Settings, TemporalSettings  # noqa: E402
from core.runtime.temporal import connect, data_converter  # noqa: E402
from core.runtime.workflow_config import WorkflowStart  # noqa: E402
from core.store import migrate  # noqa: E402
from core.store.db import create_engine, session_factory  # noqa: E402
from core.store.models import Order  # noqa: E402

BIN = Path(sys.executable).parent
CODEC_KEYS = f"bench-1:{new_key()}"


def write_export(path: Path, orders: int, clients: int) -> None:
    rng = random.Random(20_000)
    lines = ["client_id,ordered_at,amount,order_id,currency"]
    for i in range(orders):
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        order_id = f"o{i}" if i % 2 else ""
        lines.append(f"c{i % clients},{day.isoformat()},{rng.randrange(100, 20000) / 100:.2f},{order_id},EUR")
    path.write_text("\n".join(lines) + "\n")


def env_for(address: str, db_url: str) -> dict[str, str]:
    # the worker and the import encrypt payloads as in production (one key for both)
    return worker_env(address, db_url, "bench-backfill", CODEC_KEYS)


async def counts(db_url: str) -> tuple[int, int, int]:
    """(rows, distinct order ids, distinct clients) in the orders table."""
    engine = create_engine(DatabaseSettings(url=db_url))
    try:
        async with session_factory(engine)() as session:
            query = select(
                func.count(),
                func.count(func.distinct(Order.order_id)),
                func.count(func.distinct(Order.client_id)),
            )
            rows, ids, clients = (await session.execute(query)).one()
    finally:
        await engine.dispose()
    return int(rows), int(ids), int(clients)


async def interrupted_import(csv: Path, env: dict[str, str], kill_after: int, concurrency: int) -> int:
    """Run the import, SIGKILL it once the checkpoint passes ``kill_after`` clients; the count reached."""
    checkpoint = csv.with_name(csv.name + ".import-state")
    process = await asyncio.create_subprocess_exec(
        str(BIN / "rekindle"), "import", str(csv), "--concurrency", str(concurrency),
        env=env, stdout=DEVNULL, stderr=DEVNULL,
    )  # fmt: skip
    try:
        while process.returncode is None:
            try:
                if json.loads(checkpoint.read_text())["messages"] > kill_after:
                    break
            except (OSError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.05)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
    finally:
        await process.wait()
    return int(json.loads(checkpoint.read_text())["messages"])


@contextlib.asynccontextmanager
async def backfill_stack(orders: int, clients: int) -> AsyncIterator[tuple[Path, str, dict[str, str]]]:
    """A fresh dev server, migrated SQLite database, export and worker: (csv, db url, env)."""
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(),
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    db_url = f"sqlite+aiosqlite:///{folder / 'backfill.db'}"
    await asyncio.to_thread(migrate.upgrade, db_url)
    csv = folder / "orders.csv"
    write_export(csv, orders, clients)
    env = env_for(server.client.service_client.config.target_host, db_url)
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "worker", cwd=ROOT, env=env)
    try:
        yield csv, db_url, env
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 60)
        await server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


async def all_recorded(db_url: str, orders: int, started: float, limit_seconds: float) -> float:
    """Seconds from ``started`` until the workers have written every order (or the limit)."""
    while (await counts(db_url))[0] < orders and time.monotonic() - started < limit_seconds:
        await asyncio.sleep(0.25)
    return time.monotonic() - started


async def per_order_baseline(args: argparse.Namespace) -> dict[str, float]:
    """What ``rekindle import`` did before histories went in one message: one ``order_placed``
    signal-with-start per row, 64 in flight, each recorded (and often rescored) on its own."""
    async with backfill_stack(args.orders, args.clients) as (csv, db_url, env):
        settings = Settings(
            _env_file=None,
            temporal=TemporalSettings(address=env["REKINDLE_TEMPORAL__ADDRESS"], task_queue="bench-backfill"),
            security=SecuritySettings(codec_keys=SecretStr(CODEC_KEYS)),
            database=DatabaseSettings(url=db_url),
        )
        temporal = await connect(settings)
        start = WorkflowStart.from_settings(settings)
        gate = asyncio.Semaphore(64)

        async def send(row: Row) -> None:
            async with gate:
                await send_order(temporal, start, row.client_id, row.order)

        started = time.monotonic()
        rows = [row for row in read_rows(csv, "EUR") if isinstance(row, Row)]
        await asyncio.gather(*(send(row) for row in rows))
        sent_seconds = time.monotonic() - started
        recorded_seconds = await all_recorded(db_url, args.orders, started, args.timeout)
        recorded = (await counts(db_url))[0]
    print(
        f"per-order baseline: {len(rows)} signals sent in {sent_seconds:.1f} s, "
        f"{recorded} of {args.orders} orders recorded after {recorded_seconds:.1f} s"
    )
    return {"sent_seconds": sent_seconds, "recorded_seconds": recorded_seconds}


async def run(args: argparse.Namespace) -> dict[str, float | int]:
    orders, clients, limit_seconds = args.orders, args.clients, args.timeout
    baseline = await per_order_baseline(args) if args.compare else None
    async with backfill_stack(orders, clients) as (csv, db_url, env):
        started = time.monotonic()
        kill_after = clients // 3 if args.kill_after is None else args.kill_after
        stopped_at = await interrupted_import(csv, env, kill_after, args.first_concurrency)
        print(
            f"import killed (SIGKILL) after {time.monotonic() - started:.1f} s "
            f"with the checkpoint at client {stopped_at} of {clients}"
        )
        if stopped_at >= clients:
            print("the import finished before the kill: no resume tested (lower --kill-after)")
        resumed = await asyncio.create_subprocess_exec(
            str(BIN / "rekindle"), "import", str(csv), env=env, stdout=DEVNULL, stderr=PIPE
        )
        _, err = await asyncio.wait_for(resumed.communicate(), limit_seconds)
        import_seconds = time.monotonic() - started
        print(
            f"re-run exit {resumed.returncode} after {import_seconds:.1f} s in all: "
            f"{err.decode().strip().splitlines()[-1]}"
        )
        recorded_seconds = await all_recorded(db_url, orders, started, limit_seconds)
        await asyncio.sleep(3)  # anything still in flight would show up as a duplicate now
        rows, ids, seen_clients = await counts(db_url)
    figures: dict[str, float | int] = {
        "orders": orders,
        "clients": clients,
        "rows_in_db": rows,
        "distinct_order_ids": ids,
        "clients_in_db": seen_clients,
        "duplicates": rows - ids,
        "resumed_from_client": stopped_at,
        "import_seconds": round(import_seconds, 1),
        "recorded_seconds": round(recorded_seconds, 1),
        "clients_per_second": round(clients / recorded_seconds, 1),
        "orders_per_second": round(orders / recorded_seconds, 1),
    }
    if baseline is not None:
        figures["per_order_recorded_seconds"] = round(baseline["recorded_seconds"], 1)
        figures["per_order_clients_per_second"] = round(clients / baseline["recorded_seconds"], 1)
        figures["speedup"] = round(baseline["recorded_seconds"] / recorded_seconds, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before giving up")
    parser.add_argument(
        "--first-concurrency", type=int, default=64, help="clients in flight in the run that is killed"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="first send the same export as one order_placed signal per row (the old import), own stack",
    )
    parser.add_argument("--kill-after", type=int, help="clients the killed run must pass (default: a third)")
    args = parse_args(parser, orders=600, clients=150, timeout=180, first_concurrency=1, kill_after=20)
    figures = asyncio.run(run(args))
    print(
        f"{figures['rows_in_db']} of {figures['orders']} orders recorded "
        f"({figures['distinct_order_ids']} distinct ids, {figures['clients_in_db']} clients), "
        f"duplicates {figures['duplicates']}; import {figures['import_seconds']} s, "
        f"all recorded after {figures['recorded_seconds']} s: {figures['clients_per_second']} clients/s, "
        f"{figures['orders_per_second']} orders/s"
    )
    if "speedup" in figures:
        print(
            f"per-order signals (before): all recorded after {figures['per_order_recorded_seconds']} s "
            f"({figures['per_order_clients_per_second']} clients/s); one message per client: "
            f"{figures['speedup']}x faster"
        )
    print(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0 if figures["rows_in_db"] == figures["orders"] == figures["distinct_order_ids"] else 1)


if __name__ == "__main__":
    main()
