"""Where ``rekindle replay`` gets its histories: workflow ids, a visibility query, or files.

Histories are fetched raw, exactly as the server stores them: payloads stay
encrypted (the replayer decodes them with the production converter, and
``--save`` writes them as they came). Fetches run in parallel behind a semaphore;
a history that cannot be fetched or read becomes an ``Outcome`` of kind
``error`` and the others carry on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from core.contracts.messages import CLIENT_WORKFLOW
from core.contracts.model import REFIT_WORKFLOW
from core.contracts.ops import RESUME_TIMER_WORKFLOW, WEBHOOK_WORKFLOW

REKINDLE_WORKFLOW_TYPES = (CLIENT_WORKFLOW, REFIT_WORKFLOW, RESUME_TIMER_WORKFLOW, WEBHOOK_WORKFLOW)
RUNNING_QUERY = "ExecutionStatus = 'Running' AND WorkflowType IN ({})".format(
    ", ".join(f"'{name}'" for name in REKINDLE_WORKFLOW_TYPES)
)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

T = TypeVar("T")
Kind = Literal["replayed", "nondeterministic", "error"]


@dataclass(frozen=True)
class Target:
    """One run to fetch (``run_id`` None: the latest run of the id)."""

    workflow_id: str
    run_id: str | None = None
    workflow_type: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one history; ``detail`` names the mismatch or the error."""

    workflow_id: str
    kind: Kind
    detail: str = ""
    run_id: str | None = None


class SourceError(Exception):
    """The source itself is unusable (bad query, unreachable server): exit status 2."""


async def listed(
    client: Client, query: str, limit: int | None, sample: int | None, rng: random.Random | None = None
) -> list[Target]:
    """The runs a visibility query matches: the first ``limit``, or ``sample`` of them at random.

    Visibility has no random order, so a uniform sample pages through the whole listing; it
    keeps only ``sample`` targets in memory while it does (a reservoir), not the namespace.
    """
    runs = _runs(client, query, None if sample else limit)
    try:
        if sample is None:
            return [target async for target in runs]
        return await reservoir(runs, sample, rng or random.Random())  # noqa: S311 (a sample, not a secret)
    except RPCError as exc:
        raise SourceError(f"the visibility query failed: {exc.message}") from None


async def _runs(client: Client, query: str, limit: int | None) -> AsyncIterator[Target]:
    async for execution in client.list_workflows(query, limit=limit):
        yield Target(execution.id, execution.run_id, execution.workflow_type)


async def reservoir(items: AsyncIterable[T], size: int, rng: random.Random) -> list[T]:
    """``size`` items drawn uniformly from a stream of unknown length, holding only ``size``
    (Vitter's algorithm R): every item ends up in the sample with probability size/n."""
    chosen: list[T] = []
    seen = 0
    async for item in items:
        if len(chosen) < size:
            chosen.append(item)
        elif (slot := rng.randrange(seen + 1)) < size:
            chosen[slot] = item
        seen += 1
    return chosen


def by_id(ids: Iterable[str]) -> list[Target]:
    return [Target(workflow_id) for workflow_id in dict.fromkeys(ids)]


async def fetch(
    client: Client, targets: list[Target], concurrency: int
) -> AsyncIterator[WorkflowHistory | Outcome]:
    """Each target's history (or why not), as soon as it arrives, ``concurrency`` at a time."""
    queue: asyncio.Queue[WorkflowHistory | Outcome | None] = asyncio.Queue()
    gate = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> None:
        async with gate:
            await queue.put(await _fetch_one(client, target))

    async def all_of_them() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for target in targets:
                    group.create_task(one(target))
        except ExceptionGroup as failed:  # the server went away: say why, not "1 sub-exception"
            raise failed.exceptions[0] from None
        finally:
            await queue.put(None)

    producer = asyncio.create_task(all_of_them())
    try:
        while (item := await queue.get()) is not None:
            yield item
        await producer  # re-raises what broke the fetching, if anything
    finally:
        producer.cancel()


async def _fetch_one(client: Client, target: Target) -> WorkflowHistory | Outcome:
    if target.workflow_type is not None and target.workflow_type not in REKINDLE_WORKFLOW_TYPES:
        return Outcome(target.workflow_id, "error", f"not a Rekindle workflow ({target.workflow_type})")
    handle = client.get_workflow_handle(target.workflow_id, run_id=target.run_id)
    try:
        history = await handle.fetch_history()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.UNAUTHENTICATED):
            raise SourceError(f"Temporal refused the fetch: {exc.message}") from None
        return Outcome(target.workflow_id, "error", f"cannot fetch: {exc.message}", target.run_id)
    return history


def history_files(root: Path) -> list[Path]:
    """Every ``*.json`` under ``root`` (a file is taken as it is), in a stable order."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise SourceError(f"no such directory: {root}")
    return sorted(root.rglob("*.json"))


async def read_files(paths: list[Path]) -> AsyncIterator[WorkflowHistory | Outcome]:
    """Histories from files as ``temporal workflow show -o json`` (or ``--save``) writes them.

    A history file does not name its workflow: the file name (without ``.json``) does.
    """
    for path in paths:
        try:
            text = await asyncio.to_thread(path.read_text)
            history = WorkflowHistory.from_json(path.stem, text)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            yield Outcome(path.stem, "error", f"unreadable history file {path}: {type(exc).__name__}")
            continue
        # ``--save`` names a file {workflow id}_{run id}.json: report the workflow id.
        suffix = f"_{run_id(history)}"
        if path.stem.endswith(suffix) and len(path.stem) > len(suffix):
            history = dataclasses.replace(history, workflow_id=path.stem[: -len(suffix)])
        yield history


def save(history: WorkflowHistory, directory: Path) -> Path:
    """Write a fetched history as JSON (payloads still encrypted); never overwrite a file."""
    path = directory / f"{SAFE_NAME.sub('_', history.workflow_id)}_{run_id(history)}.json"
    compact = json.dumps(history.to_json_dict(), separators=(",", ":"))
    with path.open("x") as file:  # FileExistsError: a saved history is a fixture, never replaced
        file.write(compact + "\n")
    return path


def run_id(history: WorkflowHistory) -> str:
    """The run's id as its first event recorded it ("" for an empty history)."""
    try:
        return history.run_id
    except RuntimeError:
        return ""
