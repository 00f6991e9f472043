"""Soak: client workflows with backfilled history, then steady ingest for a fixed time.

Starts, in a temporary folder and on loopback only, a Temporal dev server with its
state on disk (``--db-filename``), a migrated SQLite database, the worker
(``python -m worker``, SDK metrics on its Prometheus port) and the API
(``python -m api``) as processes, like ``rekindle up`` does. Then:

1. backfill: every client gets up to ``--history`` orders from the demo population
   (BG/NBD histories, latest order first) through ``POST /v1/orders:batch``; waits
   until the workers have recorded them all;
2. steady ingest: ``--rate`` new orders a second to random clients for ``--duration``
   seconds, then waits for the backlog to drain.

Reports worker, API and server memory (RSS from /proc), the ingest rate achieved,
workflow task latency from the worker's SDK metrics during the steady phase, and
errors: failed/terminated/timed-out workflows (visibility) and failed workflow
tasks (``temporal_workflow_task_execution_failed``). Stops by itself; every wait is
bounded by ``--timeout``.

    .venv/bin/python bench/soak.py [--clients 50000] [--duration 600] [--rate 10] [--short]

``--short``: 10 clients with up to 2 orders each, then 3 s at 5 orders/s (about a minute on a loaded
machine, most of it starting the stack; bounded at 180 s).
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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, parse_args, production_env  # noqa: E402
from cli.demo import Seeder, order_item  # noqa: E402
from cli.demo_population import DemoOrder, build_population  # noqa: E402
from cli.devstack import server_state_flags  # noqa: E402
from core.runtime.codec import new_key  # noqa: E402
from core.runtime.settings import DatabaseSettings  # noqa: E402
from core.store import migrate  # noqa: E402
from core.store.apikeys import create_key  # noqa: E402
from core.store.db import create_engine, session_factory  # noqa: E402
from core.store.models import Order  # noqa: E402

BIN = Path(sys.executable).parent
SAMPLE_SECONDS = 5.0
BACKFILL_CHUNK = 400  # clients; two chunks in flight stay below the worker's 1,000 cached workflows
AMOUNTS = [Decimal(f"{v}.00") for v in (19, 25, 39, 45, 60, 79, 120)]


@dataclass
class Stack:
    folder: Path
    db_url: str
    temporal_address: str
    api_url: str
    metrics_url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each process (MB), from /proc."""
        out = {}
        for name, proc in self.procs.items():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            out[name] = round(kb / 1024, 1)
        return out

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is not self.procs.get("server") else signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def start_stack() -> Stack:
    folder = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    ports = {name: free_port() for name in ("temporal", "api", "metrics")}
    stack = Stack(
        folder=folder,
        db_url=f"sqlite+aiosqlite:///{folder / 'soak.db'}",
        temporal_address=f"127.0.0.1:{ports['temporal']}",
        api_url=f"http://127.0.0.1:{ports['api']}",
        metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics",
    )
    server = [str(BIN / "temporal"), "server", "start-dev", "--headless", "--log-level", "error"]
    server += [
        *server_state_flags(folder / "temporal.db"),  # as `rekindle up` keeps it
        "--ip",
        "127.0.0.1",
        "--port",
        str(ports["temporal"]),
    ]
    log = (folder / "server.log").open("ab")
    stack.procs["server"] = subprocess.Popen(server, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
    await asyncio.to_thread(migrate.upgrade, stack.db_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env |= {
        "REKINDLE_TEMPORAL__ADDRESS": stack.temporal_address,
        "REKINDLE_DATABASE__URL": stack.db_url,
        "REKINDLE_LOGGING__LEVEL": "WARNING",
        "REKINDLE_SECURITY__CODEC_KEYS": f"soak-1:{new_key()}",
        "REKINDLE_API__PORT": str(ports["api"]),
        "REKINDLE_WORKER__METRICS_PORT": str(ports["metrics"]),
        "REKINDLE_SMTP__PORT": str(free_port()),  # nothing is sent: approval is manual
        "REKINDLE_SCORING__REFIT_ENABLED": "false",
        **production_env(),
    }
    for name in ("worker", "api"):
        out = (folder / f"{name}.log").open("ab")
        stack.procs[name] = subprocess.Popen(  # noqa: ASYNC220 - long-lived children, started once
            [sys.executable, "-m", name], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return stack


async def wait_ready(stack: Stack, http: httpx.AsyncClient, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {stack.folder}")
        try:
            if (await http.get(f"{stack.api_url}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError("the stack did not become ready")


async def admin_key(db_url: str) -> str:
    engine = create_engine(DatabaseSettings(url=db_url))
    try:
        return (await create_key(session_factory(engine), "soak", ("admin",))).token
    finally:
        await engine.dispose()


async def orders_in_db(db_url: str) -> int:
    engine = create_engine(DatabaseSettings(url=db_url))
    try:
        async with session_factory(engine)() as session:
            return int((await session.execute(select(func.count()).select_from(Order))).scalar_one())
    finally:
        await engine.dispose()


async def drain(stack: Stack, expected: int, deadline: float) -> float:
    """Wait until the workers recorded ``expected`` orders; the seconds it took."""
    started = time.monotonic()
    while await orders_in_db(stack.db_url) < expected and time.monotonic() < deadline:
        await asyncio.sleep(1)
    return time.monotonic() - started


async def backfill(seeder: Seeder, stack: Stack, clients: int, history: int, deadline: float) -> int:
    """Every client's last ``history`` orders, latest first (as ``rekindle demo`` does).

    Clients go in chunks, and a chunk is sent only once the one before the previous has
    been recorded: at most two chunks are in flight, fewer workflows than the worker's
    cache holds, so a backfill does not evict the workflows it is still working on (every
    eviction costs a replay of the whole history).
    """
    population = build_population(clients, 11, datetime.now(UTC).date(), prefix="soak")
    sent: list[int] = []  # orders sent, cumulative, per chunk
    started = last_report = time.monotonic()
    for start in range(0, len(population), BACKFILL_CHUNK):
        chunk = population[start : start + BACKFILL_CHUNK]
        if len(sent) >= 2:
            await drain(stack, sent[-2], deadline)
        await seeder.send_orders([order_item(c.client_id, c.latest()) for c in chunk])
        await seeder.send_orders([order_item(c.client_id, o) for c in chunk for o in c.orders[-history:-1]])
        sent.append((sent[-1] if sent else 0) + sum(min(history, len(c.orders)) for c in chunk))
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            done = f"{start + len(chunk)} clients ({sent[-1]} orders)"
            print(f"  backfill: {done} sent in {last_report - started:.0f} s", flush=True)
    return sent[-1] if sent else 0


async def steady(seeder: Seeder, clients: int, rate: int, duration: float) -> dict[str, float]:
    """``rate`` orders a second to random clients; batch latencies and the rate achieved."""
    rng = random.Random(5)
    latencies: list[float] = []
    sent = 0
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < duration:
        now = datetime.now(UTC)
        batch = [
            order_item(
                f"soak-{rng.randrange(clients) + 1:05d}",
                DemoOrder(f"soak-live-{sent + i}", now, rng.choice(AMOUNTS)),
            )
            for i in range(rate)
        ]
        tick = time.monotonic()
        await seeder.post_orders(batch)
        latencies.append(time.monotonic() - tick)
        sent += rate
        # Keep the schedule: sleep to the next whole second of the plan (no catch-up burst).
        await asyncio.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "steady_orders": sent,
        "steady_seconds": round(elapsed, 1),
        "ingest_rate_per_s": round(sent / elapsed, 2),
        "batch_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "batch_p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
    }


Buckets = dict[str, dict[float, float]]  # histogram -> upper bound -> cumulative count


async def scrape(http: httpx.AsyncClient, url: str) -> tuple[Buckets, dict[str, float]]:
    """The worker's histograms (summed over labels) and counters (totals)."""
    text = (await http.get(url)).text
    buckets: Buckets = {}
    counters: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bounds = buckets.setdefault(family.name, {})
                le = float(sample.labels["le"])
                bounds[le] = bounds.get(le, 0.0) + sample.value
            elif family.type == "counter":
                counters[family.name] = counters.get(family.name, 0.0) + sample.value
    return buckets, counters


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Upper bucket bound holding the q-quantile observed between two scrapes (None: above all)."""
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = delta[-1][1] if delta else 0.0
    if total <= 0:
        return None
    bound = next(le for le, count in delta if count >= q * total)
    return None if bound == float("inf") else bound  # beyond the top bucket: JSON has no Infinity


def latency_figures(first: Buckets, last: Buckets) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for short, name in (
        ("wft_schedule_to_start", "temporal_workflow_task_schedule_to_start_latency"),
        ("wft_execution", "temporal_workflow_task_execution_latency"),
    ):
        for q in (0.5, 0.99):
            out[f"{short}_p{int(q * 100)}_ms"] = quantile(first.get(name, {}), last.get(name, {q: 0.0}), q)
    return out


async def sample_memory(stack: Stack, peaks: dict[str, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, mb in stack.rss_mb().items():
            peaks[name] = max(peaks.get(name, 0.0), mb)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def error_figures(stack: Stack, counters: dict[str, float]) -> dict[str, int]:
    client = await Client.connect(stack.temporal_address)
    out = {}
    for status in ("Failed", "Terminated", "TimedOut"):
        count = await client.count_workflows(f"ExecutionStatus='{status}'")
        out[f"workflows_{status.lower()}"] = count.count
    out["workflows_running"] = (await client.count_workflows("ExecutionStatus='Running'")).count
    # The SDK counts failed workflow tasks (a WorkflowTaskFailed event each) and activity failures.
    out["workflow_task_failures"] = int(counters.get("temporal_workflow_task_execution_failed", 0))
    out["activity_failures_retried"] = int(counters.get("temporal_activity_execution_failed", 0))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    stack = await start_stack()
    peaks: dict[str, float] = {}
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(timeout=120) as plain:
            started = time.monotonic()
            await wait_ready(stack, plain, 120)
            print(f"stack ready after {time.monotonic() - started:.1f} s", flush=True)
            headers = {"authorization": f"Bearer {await admin_key(stack.db_url)}"}
            sampler = asyncio.create_task(sample_memory(stack, peaks, stop))
            async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=120) as http:
                figures = await phases(args, stack, http, plain, deadline)
            stop.set()
            await sampler
            figures["rss_end_mb"] = stack.rss_mb()
            figures["rss_peak_mb"] = peaks
            return figures
    finally:
        stop.set()
        stack.stop()
        if not args.keep:
            shutil.rmtree(stack.folder, ignore_errors=True)


async def phases(
    args: argparse.Namespace, stack: Stack, http: httpx.AsyncClient, plain: httpx.AsyncClient, deadline: float
) -> dict[str, Any]:
    seeder = Seeder(http, concurrency=4)
    tick = time.monotonic()
    backfilled = await backfill(seeder, stack, args.clients, args.history, deadline)
    accepted_s = time.monotonic() - tick
    drained_s = await drain(stack, backfilled, deadline)
    print(
        f"backfill: {backfilled} orders for {args.clients} clients accepted in {accepted_s:.0f} s, "
        f"recorded {drained_s:.0f} s later; RSS {stack.rss_mb()}"
    )
    rss_before = stack.rss_mb()
    first, _ = await scrape(plain, stack.metrics_url)
    ingest = await steady(seeder, args.clients, args.rate, args.duration)
    last, counters = await scrape(plain, stack.metrics_url)
    expected = backfilled + int(ingest["steady_orders"])
    backlog_s = await drain(stack, expected, deadline)
    recorded = await orders_in_db(stack.db_url)
    return {
        "clients": args.clients,
        "backfill_orders": backfilled,
        "backfill_accept_seconds": round(accepted_s, 1),
        "backfill_recorded_seconds": round(accepted_s + drained_s, 1),
        **ingest,
        "backlog_drain_seconds": round(backlog_s, 1),
        "orders_expected": expected,
        "orders_recorded": recorded,
        **latency_figures(first, last),
        **await error_figures(stack, counters),
        "rss_before_steady_mb": rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=50_000, help="client workflows (<= 99,999)")
    parser.add_argument("--history", type=int, default=3, help="backfilled orders per client (at most)")
    parser.add_argument("--duration", type=float, default=600, help="seconds of steady ingest")
    parser.add_argument("--rate", type=int, default=10, help="orders a second during the steady phase")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parse_args(parser, clients=10, history=2, duration=3, rate=5, timeout=180)
    if not 1 <= args.clients <= 99_999 or args.history < 1 or args.rate < 1:
        parser.error("--clients must be 1..99999, --history and --rate at least 1")
    figures = asyncio.run(run(args))
    ok = figures["orders_recorded"] == figures["orders_expected"] and not any(
        figures[k]
        for k in ("workflows_failed", "workflows_terminated", "workflows_timedout", "workflow_task_failures")
    )
    print(
        f"steady: {figures['steady_orders']} orders in {figures['steady_seconds']} s = "
        f"{figures['ingest_rate_per_s']}/s (batch p50 {figures['batch_p50_ms']} ms, "
        f"p99 {figures['batch_p99_ms']} ms); "
        f"workflow task schedule-to-start p50/p99 {figures['wft_schedule_to_start_p50_ms']}/"
        f"{figures['wft_schedule_to_start_p99_ms']} ms, execution p50/p99 {figures['wft_execution_p50_ms']}/"
        f"{figures['wft_execution_p99_ms']} ms"
    )
    print(
        f"memory (MB) before steady {figures['rss_before_steady_mb']}, end {figures['rss_end_mb']}, "
        f"peak {figures['rss_peak_mb']}"
    )
    print(
        f"orders recorded {figures['orders_recorded']} of {figures['orders_expected']}; failed workflows "
        f"{figures['workflows_failed']}, failed workflow tasks {figures['workflow_task_failures']}: "
        f"{'OK' if ok else 'ERRORS'}"
    )
    print(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
