"""Build and run Rekindle's Temporal workers: main, LLM and send task queues."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from core.db import create_engine, session_factory
from core.logging import configure_logging, get_logger
from core.settings import Settings
from core.temporal import connect
from core.tracing import flush as flush_traces
from worker import registry
from worker.metrics import sdk_runtime, serve_metrics
from worker.schedules import ensure_refit_schedule

log = get_logger(__name__)
GRACEFUL_SHUTDOWN = timedelta(seconds=30)
CONNECT_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # then every 30 s


def build_workers(client: Client, deps: registry.Dependencies) -> list[Worker]:
    """One worker per task queue; queues without activities or workflows are skipped."""
    temporal = deps.settings.temporal
    workers = [
        Worker(
            client,
            task_queue=temporal.task_queue,
            workflows=registry.workflows(),
            activities=registry.main_activities(deps),
            max_cached_workflows=deps.settings.worker.max_cached_workflows,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        )
    ]
    llm = registry.llm_activities(deps)
    if llm:
        workers.append(
            Worker(
                client,
                task_queue=temporal.llm_task_queue,
                activities=llm,
                max_concurrent_activities=16,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
        )
    send = registry.send_activities(deps)
    if send:
        workers.append(
            Worker(
                client,
                task_queue=temporal.send_task_queue,
                activities=send,
                max_task_queue_activities_per_second=deps.settings.smtp.rate_limit_per_second,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
        )
    return workers


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then drain: in-flight tasks finish or time out."""
    async with _all(workers):
        await stop.wait()


class _all:
    def __init__(self, workers: Sequence[Worker]) -> None:
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> None:
        self._tasks = [asyncio.create_task(w.run()) for w in self._workers]

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.gather(*(w.shutdown() for w in self._workers), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """``rekindle worker``: connect, build, run until SIGINT/SIGTERM."""
    configure_logging(settings.logging)
    stop = stop or _stop_on_signals()
    engine = create_engine(settings.database)
    runtime, sdk_url = sdk_runtime(settings.worker)
    metrics = serve_metrics(settings.worker, sdk_url)
    try:
        client = await connect_when_reachable(settings, runtime, stop)
        if client is None:
            return
        await ensure_refit_schedule(client, settings)
        deps = registry.Dependencies(settings=settings, sessions=session_factory(engine))
        workers = build_workers(client, deps)
        log.info("worker started", queues=[w.task_queue for w in workers], metrics=metrics and metrics.url)
        await run_workers(workers, stop)
        log.info("worker stopped")
    finally:
        if metrics is not None:
            metrics.stop()
        flush_traces()
        await engine.dispose()


async def connect_when_reachable(
    settings: Settings, runtime: Runtime | None, stop: asyncio.Event
) -> Client | None:
    """Connect to Temporal, waiting while it is unreachable (started after us, restarting).

    A worker started before its server (a deploy, a reboot, compose without ordering)
    waits and says so, instead of exiting and relying on a supervisor. None: stopped first.
    """
    for attempt in itertools.count():
        try:
            return await connect(settings, runtime=runtime)
        except RuntimeError as exc:  # temporalio: "Failed client connect: ..."
            delay = CONNECT_RETRY_SECONDS[min(attempt, len(CONNECT_RETRY_SECONDS) - 1)]
            log.warning(
                "temporal unreachable; retrying",
                address=settings.temporal.address,
                attempt=attempt + 1,
                retry_in_s=delay,
                error=str(exc).splitlines()[0][:200],
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
            return None
    raise AssertionError("unreachable")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
