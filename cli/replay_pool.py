"""Replaying beside helper processes: the sandbox costs CPU, and one process uses one core.

Replaying a client history in the sandbox takes about 25 ms of Python here, almost all
of it in the SDK's sandbox and payload visitors, so one process tops out near 40
histories/s. This process always replays (its replayer is ready before the listing
ends); helper processes, when there are any, take chunks of histories (serialized
protos, payloads still encrypted) from the same queue as soon as each has imported
the code and built its own replayer. A helper's start-up costs a core 2-7 s, so it
only pays off for a few hundred histories or more: ``helpers_for`` starts one per
spare core once the listing has that many, unless ``--processes`` says otherwise.
Processes are spawned, not forked: this one already runs the Temporal SDK's threads,
which a fork would copy mid-flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cli.replay_sources import Outcome
from core.runtime.settings import Settings

CHUNK = 20  # histories a helper takes at once: small enough to spread, large enough to amortize the hop
# Automatic helpers: one per spare core, and one per this many histories at most (a helper
# that starts for fewer spends more of a core on its imports than it saves).
HISTORIES_PER_HELPER = 200
_runner: asyncio.Runner | None = None
_replayer: Replayer | None = None


def helpers_for(total: int, processes: int | None) -> int:
    """Helper processes beside this one: ``processes - 1`` when given, else automatic."""
    if processes is not None:
        return processes - 1
    spare_cores = len(os.sched_getaffinity(0)) - 1
    return max(0, min(spare_cores, total // HISTORIES_PER_HELPER))


def _init(settings: Settings) -> None:
    from cli.replay import new_replayer

    global _runner, _replayer
    _runner, _replayer = asyncio.Runner(), new_replayer(settings)


def _replay_chunk(chunk: list[tuple[str, bytes]]) -> list[Outcome]:
    """In a helper process: replay serialized histories, return their outcomes."""
    from cli.replay import replay_each

    assert _runner is not None
    assert _replayer is not None
    outcomes: list[Outcome] = []

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for workflow_id, data in chunk:
            yield WorkflowHistory(workflow_id, History.FromString(data).events)

    _runner.run(replay_each(_replayer, histories(), outcomes.append))
    return outcomes


def _ready() -> None:
    """Nothing: the process's initializer has built its replayer by the time this runs."""


class ReplayPool:
    """``helpers`` helper processes, started as the pool opens (their imports and replayer
    builds run while this process lists, fetches and replays the first histories)."""

    def __init__(self, settings: Settings, helpers: int) -> None:
        self.helpers = helpers
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(helpers, mp_context=context, initializer=_init, initargs=(settings,))
        self._ready: list[Future[None]] = []

    def __enter__(self) -> ReplayPool:
        # One no-op per process: with spawn, each submission that finds no idle process starts one.
        self._ready = [self._pool.submit(_ready) for _ in range(self.helpers)]
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def started(self) -> None:
        """Until every helper has imported the code and built its replayer."""
        await asyncio.gather(*(asyncio.wrap_future(ready) for ready in self._ready))

    async def replay(
        self,
        histories: AsyncIterator[WorkflowHistory],
        on_outcome: Callable[[Outcome], None],
        replayer: Replayer,
    ) -> None:
        """Replay ``histories`` here with ``replayer`` and in every helper that is ready,
        each taking the next histories from one queue; every outcome reported once."""
        from cli.replay import replay_each  # cli.replay imports this module

        loop = asyncio.get_running_loop()
        lanes = 1 + self.helpers
        queue: asyncio.Queue[WorkflowHistory | None] = asyncio.Queue(maxsize=2 * CHUNK * lanes)

        async def feed() -> None:
            async for history in histories:
                await queue.put(history)
            await queue.put(None)  # the end, left in the queue for every lane to see

        async def take() -> WorkflowHistory | None:
            history = await queue.get()
            if history is None:
                queue.put_nowait(None)
            return history

        async def one_by_one() -> AsyncIterator[WorkflowHistory]:
            while (history := await take()) is not None:
                yield history

        async def helper(ready: Future[None]) -> None:
            await asyncio.wrap_future(ready)
            while (first := await take()) is not None:
                chunk = [first]
                while len(chunk) < CHUNK and not queue.empty() and (history := await take()) is not None:
                    chunk.append(history)
                serialized = [(h.workflow_id, History(events=h.events).SerializeToString()) for h in chunk]
                for outcome in await loop.run_in_executor(self._pool, _replay_chunk, serialized):
                    on_outcome(outcome)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(feed())
                group.create_task(replay_each(replayer, one_by_one(), on_outcome))
                for ready in self._ready:
                    group.create_task(helper(ready))
        except ExceptionGroup as failed:  # the source or a lane broke: say why, not "1 sub-exception"
            raise failed.exceptions[0] from None
