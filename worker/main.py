"""Build and run Rekindle's Temporal workers: main, LLM and send task queues."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.converter import PayloadCodec
from temporalio.runtime import Runtime
from temporalio.worker import Worker, WorkerDeploymentConfig, WorkerDeploymentVersion

from core.runtime.codec import codec_from_settings
from core.runtime.logging import configure_logging, get_logger
from core.runtime.metrics import PLAINTEXT_PAYLOADS
from core.runtime.settings import Settings, WorkerSettings
from core.runtime.startup import require_production_settings
from core.runtime.temporal import connect
from core.runtime.tracing import flush as flush_traces
from core.store.datakeys import DataKeys, data_keys_for
from core.store.db import create_engine, session_factory
from worker import registry
from worker.metrics import sdk_runtime, serve_metrics
from worker.schedules import ensure_refit_schedule
from worker.webhook_deliveries import ensure_webhook_deliveries
from workflows.refit import RefitModelWorkflow

log = get_logger(__name__)
GRACEFUL_SHUTDOWN = timedelta(seconds=30)
CONNECT_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # then every 30 s


def deployment(settings: WorkerSettings) -> WorkerDeploymentConfig | None:
    """The worker's Deployment Version, when a build id is configured.

    Unversioned (``use_worker_versioning=False``): a client workflow sleeps for months,
    longer than any old build stays deployed, so it must move to new code on its next
    task (patches keep that safe); the version only records which build ran each task.
    """
    if settings.build_id is None:
        return None
    version = WorkerDeploymentVersion(deployment_name=settings.deployment_name, build_id=settings.build_id)
    return WorkerDeploymentConfig(version=version, use_worker_versioning=False)


def build_workers(client: Client, deps: registry.Dependencies) -> list[Worker]:
    """One worker per task queue: main, refit, LLM, send and webhooks; each drains for up to
    ``GRACEFUL_SHUTDOWN`` and carries the build's Deployment Version when one is configured."""
    temporal = deps.settings.temporal
    version = deployment(deps.settings.worker)

    def worker(task_queue: str, **options: Any) -> Worker:
        return Worker(
            client,
            task_queue=task_queue,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            deployment_config=version,
            **options,
        )

    return [
        worker(
            temporal.task_queue,
            workflows=registry.workflows(),
            activities=registry.main_activities(deps),
            # Every main-queue activity holds a database connection: never more at once than
            # the pool can give (pool_size plus as many overflow connections, core/store/db.py).
            max_concurrent_activities=2 * deps.settings.database.pool_size,
            max_cached_workflows=deps.settings.worker.max_cached_workflows,
        ),
        worker(
            temporal.refit_task_queue,
            workflows=[RefitModelWorkflow],
            activities=registry.refit_activities(deps),
            max_concurrent_activities=2,
        ),
        worker(
            temporal.llm_task_queue, activities=registry.llm_activities(deps), max_concurrent_activities=16
        ),
        worker(
            temporal.send_task_queue,
            activities=registry.send_activities(deps),
            max_task_queue_activities_per_second=deps.settings.smtp.rate_limit_per_second,
        ),
        worker(
            deps.settings.webhooks.task_queue,
            workflows=registry.webhook_workflows(),
            activities=registry.webhook_activities(deps),
            max_concurrent_activities=50,
        ),
    ]


class WorkerDied(RuntimeError):
    """A worker's ``run()`` ended although nobody asked it to stop."""


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then drain: in-flight tasks finish or time out.

    Should one worker's ``run()`` end by itself (a fatal poll error, a bug), the others are
    drained and this raises, so the process exits non-zero and its supervisor restarts it,
    instead of idling half-alive with a queue nobody polls.
    """
    async with _all(workers) as tasks:
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        dead = [n for n, task in enumerate(tasks) if task in done]
        if dead:
            error = tasks[dead[0]].exception()
            queue = workers[dead[0]].task_queue
            log.error(
                "worker stopped by itself", task_queue=queue, error=type(error).__name__ if error else None
            )
            raise WorkerDied(f"the worker for task queue {queue} stopped by itself") from error


@contextlib.asynccontextmanager
async def workers_running(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[registry.Dependencies]:
    """Every worker of ``build_workers`` running for the ``async with`` block; then drained, and
    what the activities opened (the SMTP pool, the LLM client) closed. A worker that stopped by
    itself is raised (``WorkerDied``) when the block ends."""
    deps = registry.Dependencies(settings=settings, sessions=sessions)
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(build_workers(client, deps), stop))
    try:
        yield deps
    finally:
        stop.set()
        try:
            await task
        finally:
            await deps.close()


class _all:
    def __init__(self, workers: Sequence[Worker]) -> None:
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> list[asyncio.Task[None]]:
        self._tasks = [asyncio.create_task(w.run()) for w in self._workers]
        return self._tasks

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.gather(*(w.shutdown() for w in self._workers), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """``rekindle worker``: connect, build, run until SIGINT/SIGTERM."""
    require_production_settings(settings)
    configure_logging(settings.logging)
    stop = stop or _stop_on_signals()
    engine = create_engine(settings.database)
    runtime, sdk_url = sdk_runtime(settings.worker)
    metrics = serve_metrics(settings.worker, sdk_url)
    sessions = session_factory(engine)
    try:
        client = await connect_when_reachable(settings, runtime, stop, data_keys_for(settings, sessions))
        if client is None:
            return
        await ensure_refit_schedule(client, settings)
        deps = registry.Dependencies(settings=settings, sessions=sessions)
        await ensure_webhook_deliveries(client, settings, deps.sessions)
        workers = build_workers(client, deps)
        log.info("worker started", queues=[w.task_queue for w in workers], metrics=metrics and metrics.url)
        try:
            await run_workers(workers, stop)
        finally:
            await deps.close()
        log.info("worker stopped")
    finally:
        if metrics is not None:
            metrics.stop()
        flush_traces()
        await engine.dispose()


async def connect_when_reachable(
    settings: Settings, runtime: Runtime | None, stop: asyncio.Event, data_keys: DataKeys | None = None
) -> Client | None:
    """Connect to Temporal, waiting while it is unreachable (started after us, restarting).

    A worker started before its server (a deploy, a reboot, compose without ordering)
    waits and says so, instead of exiting and relying on a supervisor. None: stopped first.
    """
    for attempt in itertools.count():
        try:
            return await connect(settings, runtime=runtime, data_keys=data_keys, codec=worker_codec(settings))
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


def worker_codec(settings: Settings) -> PayloadCodec | None:
    """The worker's codec also decodes plaintext payloads (a signal sent by hand without the
    codec), counting each: refusing one would fail every workflow task of that client."""
    return codec_from_settings(settings.security, on_plaintext=_plaintext_decoded)


def _plaintext_decoded() -> None:
    PLAINTEXT_PAYLOADS.inc()
    log.warning("decoded an unencrypted payload (sent without the codec)")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
