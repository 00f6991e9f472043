"""Replaying in several processes: the sandbox costs CPU, and one process uses one core.

Replaying a client history in the sandbox takes about 20-30 ms of Python here,
almost all of it in the sandbox's import and restriction machinery, so one
process tops out near 40-45 histories/s (``--processes``: opt-in, because on a
machine whose cores are busy anyway the extra processes only add their start-up
and contention; bench/replay.py measures both). The processes start when the pool
opens, before the listing, so their start-up overlaps it. The parent keeps fetching; chunks of
histories (serialized protos, payloads still encrypted) go to worker processes,
each with its own replayer built once. Processes are spawned, not forked: the
parent already runs the Temporal SDK's threads, which a fork would copy mid-flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cli.replay_sources import Outcome
from core.runtime.settings import Settings

CHUNK = 20  # histories per task: small enough to spread, large enough to amortize the hop
_runner: asyncio.Runner | None = None
_replayer: Replayer | None = None


def _init(settings: Settings) -> None:
    from cli.replay import new_replayer

    global _runner, _replayer
    _runner, _replayer = asyncio.Runner(), new_replayer(settings)


def _replay_chunk(chunk: list[tuple[str, bytes]]) -> list[Outcome]:
    """In a worker process: replay serialized histories, return their outcomes."""
    from cli.replay import outcome_of

    assert _runner is not None
    assert _replayer is not None
    replayer = _replayer

    async def replay() -> list[Outcome]:
        async def histories() -> AsyncIterator[WorkflowHistory]:
            for workflow_id, data in chunk:
                yield WorkflowHistory(workflow_id, History.FromString(data).events)

        async with replayer.workflow_replay_iterator(histories()) as results:
            return [outcome_of(result) async for result in results]

    return _runner.run(replay())


class ReplayPool:
    """``processes`` worker processes, started as the pool opens: their imports and replayer
    builds (seconds each) run while the parent lists and fetches the first histories."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            processes, mp_context=context, initializer=_init, initargs=(settings,)
        )

    def __enter__(self) -> ReplayPool:
        # One no-op per process: with spawn, each submission that finds no idle process starts one.
        for _ in range(self.processes):
            self._pool.submit(_ready)
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def replay(
        self, histories: AsyncIterator[WorkflowHistory], on_outcome: Callable[[Outcome], None]
    ) -> None:
        """Replay ``histories``, ``CHUNK`` at a time, reporting each outcome as its chunk ends."""
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Future[list[Outcome]]] = set()

        async def drain(limit: int) -> None:
            while len(in_flight) > limit:
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    in_flight.discard(future)
                    for outcome in future.result():
                        on_outcome(outcome)

        chunk: list[tuple[str, bytes]] = []
        async for history in histories:
            chunk.append((history.workflow_id, History(events=history.events).SerializeToString()))
            if len(chunk) == CHUNK:
                in_flight.add(loop.run_in_executor(self._pool, _replay_chunk, chunk))
                chunk = []
                await drain(2 * self.processes)
        if chunk:
            in_flight.add(loop.run_in_executor(self._pool, _replay_chunk, chunk))
        await drain(0)


def _ready() -> None:
    """Nothing: the process's initializer has built its replayer by the time this runs."""
