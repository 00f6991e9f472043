"""What one client-year costs Temporal: adaptive timers vs a daily rescore tick, side by side.

A population of typical clients (weekly, monthly, quarterly, one-time buyers,
churners) lives one simulated year on the time-skipping test server, each client
twice: once in ClientEngagementWorkflow and once in a naive workflow that wakes
daily to rescore. Both use the real order and scoring activities on a SQLite
file; drafting and sending are in-process stand-ins (auto-approve on). Then the
worker's memory per cached client workflow is measured (RSS with N cached
workflows vs before).

Run: ``.venv/bin/python -m bench.workflow_cost [--short]`` (loopback only, stops by itself).
``--short``: one client of each kind for 30 days (scaled to a year) and 30 cached workflows for
the memory figure (seconds, not minutes). The last line is one JSON object with the figures
issue 4 names.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.facts import ClientFactsActivities
from activities.orders import OrderActivities
from activities.policy import PolicyActivities
from activities.scoring import ScoringActivities
from bench.common import parse_args
from bench.naive import NAIVE_WORKFLOW, DailyRescoreWorkflow
from core.contracts.consent import ProfileUpdated
from core.contracts.emails import (
    DraftEmailInput,
    DraftEmailResult,
    SendEmailInput,
    SendEmailResult,
    UpdateEmailInput,
)
from core.contracts.messages import (
    ACTIVITY_DRAFT_EMAIL,
    ACTIVITY_SEND_EMAIL,
    ACTIVITY_UPDATE_EMAIL,
    CLIENT_WORKFLOW,
    QUERY_STATE,
    SIGNAL_ORDER_PLACED,
    SIGNAL_PROFILE_UPDATED,
    OrderPlaced,
)
from core.contracts.state import ClientStateView, ClientWorkflowInput, WorkflowConfig
from core.runtime.process import finish
from core.runtime.settings import DatabaseSettings, PolicySettings, Settings
from core.runtime.temporal import data_converter, register_search_attributes
from core.store import migrate
from core.store.db import create_engine, session_factory
from workflows.client import ClientEngagementWorkflow

YEAR_DAYS = 365
CACHED_WORKFLOWS = 600
BATCHES = 3
CONFIG = WorkflowConfig(auto_approve=True)
# (name, days between orders or None for a single order, orders before going silent, count)
POPULATION: list[tuple[str, float | None, int, int]] = [
    ("weekly", 7, 999, 3),
    ("monthly", 30, 999, 4),
    ("quarterly", 91, 999, 2),
    ("one-time", None, 1, 1),
    ("churner", 30, 4, 2),
]


@dataclass
class Cost:
    tasks: int = 0
    events: int = 0
    runs: int = 0
    max_events_per_run: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=dict)


@activity.defn(name=ACTIVITY_DRAFT_EMAIL)
async def draft_email(input: DraftEmailInput) -> DraftEmailResult:
    return DraftEmailResult(
        email_id=input.email_id, subject="s", preheader="p", body_text="b", body_html="<p>b</p>",
        generator="bench", prompt_version="bench",
    )  # fmt: skip


@activity.defn(name=ACTIVITY_UPDATE_EMAIL)
async def update_email(input: UpdateEmailInput) -> None:
    return None


@activity.defn(name=ACTIVITY_SEND_EMAIL)
async def send_email(input: SendEmailInput) -> SendEmailResult:
    return SendEmailResult(email_id=input.email_id, outcome="sent")


def order_days(cadence: float | None, orders: int, rng: random.Random, span: int = YEAR_DAYS) -> list[int]:
    """Days of the ``span`` simulated a client orders on: their cadence with a little jitter."""
    if cadence is None:
        return [rng.randrange(0, 14)]
    days: list[int] = []
    day = rng.uniform(0, min(cadence, span - 1))  # a short span still sees every client order
    while day < span and len(days) < orders:
        days.append(int(day))
        day += cadence * rng.uniform(0.85, 1.15)
    return days


def schedule(
    rng: random.Random, per_kind: int | None = None, span: int = YEAR_DAYS
) -> tuple[dict[int, list[tuple[str, str]]], dict[str, str]]:
    """Day -> [(client id, order id)] and client id -> kind (``per_kind`` clients of each, if given)."""
    by_day: dict[int, list[tuple[str, str]]] = {}
    kinds: dict[str, str] = {}
    for kind, cadence, orders, count in POPULATION:
        for n in range(per_kind or count):
            cid = f"bench-{kind}-{n}-{uuid.uuid4().hex[:6]}"
            kinds[cid] = kind
            for i, day in enumerate(order_days(cadence, orders, rng, span)):
                by_day.setdefault(day, []).append((cid, f"{cid}-o{i}"))
    return by_day, kinds


async def signal(client: Client, workflow: str, wid: str, cid: str, queue: str, order: OrderPlaced) -> None:
    await client.start_workflow(
        workflow,
        ClientWorkflowInput(client_id=cid, config=CONFIG),
        id=wid,
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=SIGNAL_ORDER_PLACED,
        start_signal_args=[order],
    )


async def simulate_year(env: WorkflowEnvironment, queue: str, by_day: Any, span: int = YEAR_DAYS) -> None:
    """Deliver every order on its day to both designs, then let the ``span`` days run out."""
    start = await env.get_current_time()
    for day in sorted(by_day):
        now = await env.get_current_time()
        target = start + timedelta(days=day)
        if target > now:
            await env.sleep(target - now)
        placed = await env.get_current_time()
        sends = []
        for cid, oid in by_day[day]:
            order = OrderPlaced(order_id=oid, placed_at=placed, currency="USD", amount=Decimal("40.00"))
            sends.append(signal(env.client, CLIENT_WORKFLOW, f"client-{cid}", cid, queue, order))
            sends.append(signal(env.client, NAIVE_WORKFLOW, f"daily-{cid}", cid, queue, order))
        await asyncio.gather(*sends)
    end = start + timedelta(days=span)
    await env.sleep(end - await env.get_current_time())


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow id, following continue-as-new from the first."""
    handle = client.get_workflow_handle(workflow_id)
    first = (await handle.describe()).raw_description.workflow_execution_info.first_run_id
    histories, run_id = [], first or None
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return histories


async def cost_of(client: Client, ids: dict[str, str]) -> Cost:
    cost = Cost()
    for workflow_id, kind in ids.items():
        tasks = 0
        for history in await runs_of(client, workflow_id):
            events = len(history.events)
            done = sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events)
            tasks += done
            cost.tasks += done
            cost.events += events
            cost.runs += 1
            cost.max_events_per_run = max(cost.max_events_per_run, events)
        cost.per_kind.setdefault(kind, []).append(tasks)
    return cost


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def memory_per_cached_workflow(
    env: WorkflowEnvironment, activities: Sequence[Any], cached: int, runner: WorkflowRunner | None = None
) -> float:
    """RSS growth of one worker holding ``cached`` client workflows in its cache, per workflow."""
    queue = f"bench-mem-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=[ClientEngagementWorkflow],
        activities=activities,
        max_cached_workflows=cached * 2,
        workflow_runner=runner or SandboxedWorkflowRunner(),
    )
    async with worker:
        await _warm(env.client, queue, "warm", min(50, cached))
        deltas = []
        for batch in range(BATCHES):  # the median of three batches: RSS moves in allocator steps
            gc.collect()
            before = rss_kb()
            await _warm(env.client, queue, f"mem{batch}", cached // BATCHES)
            gc.collect()
            deltas.append((rss_kb() - before) / (cached // BATCHES))
    return statistics.median(deltas)


async def _warm(client: Client, queue: str, prefix: str, n: int) -> None:
    ids = [f"bench-{prefix}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    for chunk in range(0, n, 50):
        await asyncio.gather(*(_start_idle(client, queue, cid) for cid in ids[chunk : chunk + 50]))
    for cid in ids:  # settled (scored, asleep) and answered from the worker's cache
        await _scored(client, f"client-{cid}")


async def _scored(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        state = await handle.query(QUERY_STATE, result_type=ClientStateView)
        if state.score is not None:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{workflow_id} was never scored")


async def _start_idle(client: Client, queue: str, cid: str) -> None:
    await client.start_workflow(
        CLIENT_WORKFLOW,
        ClientWorkflowInput(client_id=cid, config=CONFIG),
        id=f"client-{cid}",
        task_queue=queue,
        start_signal=SIGNAL_PROFILE_UPDATED,
        start_signal_args=[ProfileUpdated()],
    )


def report(ours: Cost, naive: Cost, kinds: dict[str, str], args: argparse.Namespace, kb: float) -> None:
    clients, year = len(kinds), YEAR_DAYS / args.days  # per client, scaled to a year
    simulated = "one simulated year" if args.days == YEAR_DAYS else f"{args.days} simulated days, scaled"
    print(f"population: {clients} clients, {simulated}")
    print(
        f"{'design':<22}{'tasks/client-year':>20}{'events/client-year':>20}{'runs':>6}{'max events/run':>16}"
    )
    for name, c in (("adaptive (Rekindle)", ours), ("daily rescore tick", naive)):
        per_year = f"{c.tasks * year / clients:>20.1f}{c.events * year / clients:>20.1f}"
        print(f"{name:<22}{per_year}{c.runs:>6}{c.max_events_per_run:>16}")
    print("adaptive tasks per client-year by kind (daily design in brackets):")
    for kind in dict.fromkeys(kinds.values()):
        mine, theirs = ours.per_kind[kind], naive.per_kind[kind]
        print(f"  {kind:<10} {sum(mine) * year / len(mine):7.1f}  [{sum(theirs) * year / len(theirs):7.1f}]")
    print(f"ratio (daily / adaptive workflow tasks): {naive.tasks / ours.tasks:.1f}x")
    print(f"worker memory per cached client workflow: {kb:.1f} KB")
    batches = f"median of {BATCHES} batches of {args.cached // BATCHES}"
    print(f"  (RSS growth per workflow, {batches}, sandbox on as in production)")


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(f"sqlite:///{Path(tmp) / 'bench.db'}")
        engine = create_engine(DatabaseSettings(url=url))
        sessions = session_factory(engine)
        server = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=server, data_converter=data_converter()
        )
        try:
            await register_search_attributes(env.client)
            # Every activity the client workflow calls: the database ones for real (a run's facts,
            # the live policy seeded with auto-approval like CONFIG), drafting and sending stand-ins.
            policy = PolicySettings(auto_approve=True)
            activities: list[Callable[..., Any]] = [
                OrderActivities(sessions).record_order, OrderActivities(sessions).record_orders,
                ScoringActivities(sessions).rescore_client,
                ClientFactsActivities(sessions).load_client_facts,
                PolicyActivities(sessions, Settings(_env_file=None, policy=policy)).load_policy,
                draft_email, update_email, send_email,
            ]  # fmt: skip
            by_day, kinds = schedule(random.Random(4), args.per_kind, args.days)
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            workflows = [ClientEngagementWorkflow, DailyRescoreWorkflow]
            async with Worker(env.client, task_queue=queue, workflows=workflows, activities=activities):
                await simulate_year(env, queue, by_day, args.days)
            print(f"year simulated after {time.monotonic() - started:.1f} s", flush=True)
            ours = await cost_of(env.client, {f"client-{c}": k for c, k in kinds.items()})
            naive = await cost_of(env.client, {f"daily-{c}": k for c, k in kinds.items()})
            kb = await memory_per_cached_workflow(env, activities, args.cached)
            print(f"memory with the sandbox measured after {time.monotonic() - started:.1f} s", flush=True)
            kb_bare = await memory_per_cached_workflow(
                env, activities, args.cached, UnsandboxedWorkflowRunner()
            )
        finally:
            await env.shutdown()
            await engine.dispose()
    print(f"all measured in {time.monotonic() - started:.1f} s (wall clock)")
    report(ours, naive, kinds, args, kb)
    print(f"  (the same without the workflow sandbox, for comparison: {kb_bare:.1f} KB)")
    per_client_year = YEAR_DAYS / args.days / len(kinds)
    figures = {
        "tasks_per_client_year": round(ours.tasks * per_client_year, 1),
        "daily_design_tasks_per_client_year": round(naive.tasks * per_client_year, 1),
        "ratio": round(naive.tasks / ours.tasks, 1),
        "max_events_per_run": ours.max_events_per_run,
        "kb_per_cached_workflow": round(kb, 1),
    }
    print(json.dumps(figures))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--per-kind", type=int, help="clients of each kind (default: the typical mix)")
    parser.add_argument(
        "--cached", type=int, default=CACHED_WORKFLOWS, help="workflows cached for the memory figure"
    )
    parser.add_argument(
        "--days", type=int, default=YEAR_DAYS, help="days simulated (figures are scaled to a year)"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds before giving up")
    return parse_args(parser, per_kind=1, days=30, cached=30, timeout=240)


if __name__ == "__main__":
    arguments = parse()
    try:
        asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.timeout))
    except Exception as exc:
        print(f"error: {exc!r}", file=sys.stderr)
        finish(1)
    finish(0)
