"""Policy rollout: how long until every running client workflow has adopted a new version.

Starts a Temporal dev server (the venv's ``temporal``, in memory, Rekindle's search
attributes, payloads encrypted as in production) and a worker in this process, then starts
``--clients`` probe workflows, each asleep on a 180-day timer with ``PolicyVersion = 1``.
Then it stores nothing and starts the real pusher (``core.runtime.rollout.push_versions``: one batch
signal over the visibility query of the workflows behind) for version 2, and polls
visibility until every probe reports ``PolicyVersion = 2``.

The probe (``tests/fakes/rollout_probe.py``) adopts exactly as the client workflow does: the
signal handler offers the carried policy to a ``PolicyFollower``, the loop wakes, upserts
``PolicyVersion``/``ModelVersion`` and re-plans its timer: one workflow task per client, no
activity. It leaves out the client workflow's other work on that wake-up (rescoring when the
model changed, an email step if the new policy now targets the client), which is the same
work any wake-up does and is measured by ``bench/workflow_cost.py``.

Loopback only; bounded by ``--timeout``; ``--short`` runs 300 clients (``make bench``). The last line is
``{"clients": N, "seconds_to_adopt": s, "adopted_per_second": r}``.

    .venv/bin/python bench/policy_rollout.py [--clients 10000] [--rps 1000] [--short]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse_args  # noqa: E402
from core.domain.search_attributes import ALL as SEARCH_ATTRIBUTES  # noqa: E402
from core.runtime.codec import EncryptionCodec, new_key, parse_keys  # noqa: E402
from core.runtime.process import finish  # noqa: E402
from core.runtime.rollout import fan_out, push_versions  # noqa: E402
from core.runtime.temporal import data_converter  # noqa: E402
from tests.fakes.rollout_probe import PROBE, RolloutProbeWorkflow, live, start_attributes  # noqa: E402

TASK_QUEUE = "bench-rollout"
CONCURRENCY = 64


async def _start_probes(client: Client, n: int) -> None:
    first, attrs = live(1), start_attributes()
    ids = iter(range(n))

    async def starter() -> None:
        for i in ids:
            await client.start_workflow(
                PROBE, first, id=f"probe-{i:06d}", task_queue=TASK_QUEUE, search_attributes=attrs
            )

    await asyncio.gather(*(starter() for _ in range(CONCURRENCY)))


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def _wait_for(client: Client, query: str, n: int, deadline: float) -> float:
    started, shown = time.monotonic(), 0.0
    while time.monotonic() < deadline:
        count = await _count(client, query)
        if count >= n:
            return time.monotonic()
        if time.monotonic() - shown >= 5:
            print(f"  {time.monotonic() - started:6.1f} s: {count:,} of {n:,}", flush=True)
            shown = time.monotonic()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"not all {n} workflows matched {query!r} in time")


async def measure(client: Client, n: int, rps: float, budget: float, mode: str) -> dict[str, float]:
    running = f"WorkflowType = '{PROBE}' AND ExecutionStatus = 'Running'"
    started = time.monotonic()
    await _start_probes(client, n)
    await _wait_for(client, f"{running} AND PolicyVersion = 1", n, started + budget)
    print(f"{n} probes asleep after {time.monotonic() - started:.1f} s", flush=True)
    t0 = time.monotonic()
    if mode == "batch":
        rollout = await push_versions(client, live(2), 1, rps=rps, workflow_type=PROBE)
        print(f"rollout {rollout.job_id}: {rollout.outcome}", flush=True)
    else:
        signalled = await fan_out(client, live(2), 1, workflow_type=PROBE)
        print(f"fan-out: {signalled} signalled after {time.monotonic() - t0:.1f} s", flush=True)
    done = await _wait_for(client, f"{running} AND PolicyVersion = 2 AND ModelVersion = 1", n, t0 + budget)
    seconds = done - t0
    return {"clients": n, "seconds_to_adopt": round(seconds, 1), "adopted_per_second": round(n / seconds, 1)}


async def run(n: int, rps: float, budget: float, max_cached: int, mode: str) -> dict[str, float]:
    key = "bench-1"
    codec = EncryptionCodec(parse_keys(f"{key}:{new_key()}"), key)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=data_converter(codec),
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", f"worker.batcherRPS={int(rps)}"],
    )
    try:
        worker = Worker(
            env.client,
            task_queue=TASK_QUEUE,
            workflows=[RolloutProbeWorkflow],
            max_cached_workflows=max_cached,
        )
        async with worker:
            return await measure(env.client, n, rps, budget, mode)
    finally:
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rps", type=float, default=1000.0, help="the batch job's signals per second")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds; the bench stops after")
    parser.add_argument("--max-cached", type=int, default=1000, help="worker workflow cache")
    parser.add_argument(
        "--mode", choices=("batch", "fanout"), default="batch", help="server batch job, or signals from here"
    )
    args = parse_args(parser, clients=300, timeout=240.0)
    result = asyncio.run(run(args.clients, args.rps, args.timeout, args.max_cached, args.mode))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
    finish(0)
