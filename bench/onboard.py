"""Onboarding at server speed: a retailer's history through ``rekindle import``, against bare starts.

Simulates a population with the demo's BG/NBD + Gamma-Gamma simulator (profiles with an email
address, and every client's orders), writes the two exports, and on its own dev stack (a
Temporal dev server on a SQLite file, as ``make run`` starts it; a migrated SQLite database; the
worker, ``python -m worker``, in its own process, payloads encrypted as in production):

1. starts as many minimal workflows as there are clients, by signal-with-start (64 in flight,
   as the import sends), each completing in one workflow task on its own queue: what the
   server itself does per client (``bare_starts_per_second``);
2. runs ``rekindle import orders.csv --profiles profiles.csv`` and waits until the clients are
   onboarded: every order in the database, every client scored, every client workflow running,
   no draft still being written, and the worker idle (its CPU flat for a second).

``ratio`` is onboarded clients/s over bare starts/s on the same server in the same run;
``worker_cpu_ms_per_client`` is the worker process's CPU from the import's start to onboarded,
per client; ``drafts_cancelled`` counts emails cancelled (a draft made for a stale order and
cancelled by a later one would show here).

    .venv/bin/python bench/onboard.py [--clients 20000] [--short]

Loopback only; stops by itself (bounded by --timeout). ``--short``: 200 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse_args, worker_env  # noqa: E402
from bench.ingest import cpu_seconds  # noqa: E402
from cli.demo_population import DemoClient, build_population  # noqa: E402
from cli.devstack import server_state_flags  # noqa: E402
from core.contracts.messages import SIGNAL_ORDERS_IMPORTED  # noqa: E402
from core.runtime.codec import new_key  # noqa: E402
from core.runtime.settings import DatabaseSettings  # noqa: E402
from core.store import migrate  # noqa: E402
from core.store.db import create_engine, session_factory  # noqa: E402
from core.store.models import Client as ClientRow  # noqa: E402
from core.store.models import Email, Order  # noqa: E402

BIN = Path(sys.executable).parent
CODEC_KEYS = f"bench-1:{new_key()}"
QUEUE = "bench-onboard"
BARE_QUEUE = "bench-onboard-bare"
IN_FLIGHT = 64  # what ``rekindle import`` keeps in flight by default
CLIENT_WORKFLOW = "ClientEngagementWorkflow"
IDLE_CPU_SECONDS = 0.05  # a worker using less CPU than this over a second is only polling


@workflow.defn(name="BenchBareClient")
class BareClient:
    """The least a client workflow can be: started by signal-with-start, done in one task."""

    def __init__(self) -> None:
        self.orders = 0

    @workflow.run
    async def run(self) -> int:
        return self.orders

    @workflow.signal(name=SIGNAL_ORDERS_IMPORTED)
    def orders_imported(self, count: int) -> None:
        self.orders += count


def write_exports(folder: Path, population: list[DemoClient]) -> tuple[Path, Path, int]:
    orders_csv, profiles_csv = folder / "orders.csv", folder / "profiles.csv"
    count = 0
    with orders_csv.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["client_id", "ordered_at", "amount", "order_id", "currency"])
        for client in population:
            for order in client.orders:
                out.writerow(
                    [client.client_id, order.placed_at.isoformat(), order.amount, order.order_id, "EUR"]
                )
                count += 1
    columns = ["email", "first_name", "last_name", "time_zone", "locale"]
    with profiles_csv.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["client_id", *columns])
        for client in population:
            out.writerow([client.client_id, *(client.profile.get(c, "") for c in columns)])
    return orders_csv, profiles_csv, count


async def bare_starts(client: Client, clients: int) -> float:
    """Seconds to start ``clients`` bare workflows by signal-with-start until all completed."""
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def start(i: int) -> None:
        async with gate:
            await client.start_workflow(
                BareClient.run,
                id=f"bare-{run}-{i}",
                task_queue=BARE_QUEUE,
                start_signal=SIGNAL_ORDERS_IMPORTED,
                start_signal_args=[4],
            )

    # Unsandboxed: a one-line workflow needs no sandbox, and the figure is the server's speed.
    bare = Worker(
        client, task_queue=BARE_QUEUE, workflows=[BareClient], workflow_runner=UnsandboxedWorkflowRunner()
    )
    async with bare:
        started = time.monotonic()
        await asyncio.gather(*(start(i) for i in range(clients)))
        query = (
            "WorkflowType = 'BenchBareClient' AND ExecutionStatus = 'Completed' "
            f"AND WorkflowId STARTS_WITH 'bare-{run}-'"
        )
        while (await client.count_workflows(query)).count < clients:
            await asyncio.sleep(0.1)
        return time.monotonic() - started


async def onboarded(sessions: async_sessionmaker[AsyncSession], client: Client) -> dict[str, int]:
    """What is done so far: orders, scored clients, running workflows, emails by status."""
    async with sessions() as session:
        recorded = await session.scalar(select(func.count()).select_from(Order))
        scored = await session.scalar(select(func.count()).where(ClientRow.score.is_not(None)))
        statuses = dict(
            (await session.execute(select(Email.status, func.count()).group_by(Email.status))).all()
        )
    running = (
        await client.count_workflows(f"WorkflowType = '{CLIENT_WORKFLOW}' AND ExecutionStatus = 'Running'")
    ).count
    return {
        "orders": int(recorded or 0),
        "scored": int(scored or 0),
        "running": running,
        "cancelled": int(statuses.get("cancelled", 0)),
        "drafted": sum(int(n) for n in statuses.values()),
    }


async def wait_until(check: Callable[[], Awaitable[bool]], worker: Process, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not await check():
        if worker.returncode is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("not onboarded within --timeout")
        await asyncio.sleep(0.25)


async def run(args: argparse.Namespace) -> dict[str, float | int]:
    population = build_population(args.clients, args.seed, datetime.now(UTC).date())
    folder = Path(tempfile.mkdtemp(prefix="bench-onboard-"))
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_extra_args=server_state_flags(folder / "temporal.db"),
        ui=False,
    )
    worker = engine = None
    try:
        orders_csv, profiles_csv, orders = write_exports(folder, population)
        db_url = f"sqlite+aiosqlite:///{folder / 'rekindle.db'}"
        await asyncio.to_thread(migrate.upgrade, db_url)
        env = worker_env(server.client.service_client.config.target_host, db_url, QUEUE, CODEC_KEYS)
        print(f"{args.clients} clients, {orders} orders ({orders / args.clients:.1f} per client)")

        bare_seconds = await bare_starts(server.client, args.clients)
        bare_rate = args.clients / bare_seconds
        print(f"bare starts: {args.clients} in {bare_seconds:.1f} s: {bare_rate:.1f}/s")

        worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "worker", cwd=ROOT, env=env)
        await asyncio.sleep(2)  # the worker polls before the import begins
        cpu_before = cpu_seconds(worker.pid)
        started = time.monotonic()
        importer = await asyncio.create_subprocess_exec(
            str(BIN / "rekindle"), "import", str(orders_csv), "--profiles", str(profiles_csv),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(importer.communicate(), args.timeout)
        import_seconds = time.monotonic() - started
        if importer.returncode != 0:
            raise RuntimeError(f"rekindle import failed: {err.decode()[-500:]}")
        print(f"import sent in {import_seconds:.1f} s")
        engine = create_engine(DatabaseSettings(url=db_url))
        sessions = session_factory(engine)

        async def everything_recorded() -> bool:
            done = await onboarded(sessions, server.client)
            return (
                done["orders"] >= orders
                and done["scored"] >= args.clients
                and done["running"] >= args.clients
            )

        await wait_until(everything_recorded, worker, args.timeout)
        # Drafts for the lapsed and at-risk may still be being written: wait for the worker to
        # be idle (its CPU flat over a second).
        while True:
            quiet_from, before = time.monotonic(), cpu_seconds(worker.pid)
            await asyncio.sleep(1.0)
            if cpu_seconds(worker.pid) - before < IDLE_CPU_SECONDS:
                break
        onboard_seconds = quiet_from - started  # the quiet second is not work
        cpu = cpu_seconds(worker.pid) - cpu_before
        final = await onboarded(sessions, server.client)
    finally:
        if engine is not None:
            await engine.dispose()
        if worker is not None and worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 60)
        await server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    rate = args.clients / onboard_seconds
    print(
        f"onboarded {final['scored']} clients ({final['orders']} orders, "
        f"{final['running']} workflows running, {final['drafted']} drafts) "
        f"in {onboard_seconds:.1f} s: {rate:.1f} clients/s; "
        f"worker CPU {1000 * cpu / args.clients:.1f} ms per client; drafts cancelled {final['cancelled']}"
    )
    print(f"ratio to bare starts on the same server: {rate / bare_rate:.2f} (target >= 0.5)")
    return {
        "clients": args.clients,
        "orders": orders,
        "onboard_seconds": round(onboard_seconds, 1),
        "clients_per_second": round(rate, 1),
        "bare_starts_per_second": round(bare_rate, 1),
        "ratio": round(rate / bare_rate, 2),
        "drafts_cancelled": final["cancelled"],
        "worker_cpu_ms_per_client": round(1000 * cpu / args.clients, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before giving up")
    args = parse_args(parser, clients=200, timeout=240)
    figures = asyncio.run(run(args))
    print(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
