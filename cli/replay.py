"""``rekindle replay``: replay real histories against the workflow code in this checkout.

Before a deploy, the question is whether the new code reproduces every command
the running workflows already recorded. This replays them as the worker would:
the workflows the worker registers, the production data converter and payload
codec (the histories stay encrypted until the replayer decodes them), the
sandbox on. Histories come from workflow ids, a visibility query, ``--all``
(every running client and refit workflow) or files; they are fetched in parallel
and replayed as they arrive.

Exit status: 0 every history replayed; 1 at least one is nondeterministic (each
is named with the first event that did not match the new code's commands); 2 a
usage or connection error, or a history that could not be fetched or decoded.
The last line on stdout is ``{"replayed": N, "nondeterministic": M, "errors": K}``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import TextColumn
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer, WorkflowReplayResult

from cli import replay_sources as sources
from cli.devdata import dev_settings
from cli.progress import progress_bar
from cli.replay_pool import ReplayPool, helpers_for
from cli.replay_sources import Outcome, SourceError
from core.runtime.codec import CodecError
from core.runtime.settings import Settings
from core.runtime.temporal import configured_converter, connect

REPLAY_BUILD_ID = "rekindle-replay"  # a fixed id spares the SDK hashing every loaded module
CORE_MESSAGE = re.compile(r'Nondeterminism error: (?P<message>.*?)(?:", source:|$)', re.S)
EVENT = re.compile(r"HistoryEvent\(id: (?P<id>\d+), (?P<type>\w+)\)")
MACHINE = re.compile(r"^(?P<machine>[A-Za-z ]+?) machine does not handle this event")
# Core's state machine that received an event names the command the new code issued.
MACHINE_COMMANDS = {
    "Timer": "StartTimer",
    "Activity": "ScheduleActivityTask",
    "Local activity": "ScheduleLocalActivity",
    "Child workflow": "StartChildWorkflowExecution",
    "Signal external": "SignalExternalWorkflowExecution",
    "Cancel external": "RequestCancelExternalWorkflowExecution",
    "Upsert search attributes": "UpsertWorkflowSearchAttributes",
    "Modify workflow properties": "ModifyWorkflowProperties",
    "Patch": "SetPatchMarker",
    "Complete workflow": "CompleteWorkflowExecution",
    "Continue as new workflow": "ContinueAsNewWorkflowExecution",
}


@dataclass
class Tally:
    """Counts so far, and every history that did not replay."""

    replayed: int = 0
    nondeterministic: int = 0
    errors: int = 0
    failures: list[Outcome] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def start(self) -> None:
        """Start the clock once the histories are listed (the rate is fetch + replay)."""
        self.started = time.perf_counter()

    def add(self, outcome: Outcome) -> None:
        if outcome.kind == "replayed":
            self.replayed += 1
            return
        if outcome.kind == "nondeterministic":
            self.nondeterministic += 1
        else:
            self.errors += 1
        self.failures.append(outcome)

    @property
    def total(self) -> int:
        return self.replayed + self.nondeterministic + self.errors

    def rate(self) -> float:
        return self.total / max(time.perf_counter() - self.started, 1e-9)

    def summary(self) -> dict[str, int]:
        return {"replayed": self.replayed, "nondeterministic": self.nondeterministic, "errors": self.errors}

    def exit_status(self) -> int:
        return 1 if self.nondeterministic else 2 if self.errors else 0


def describe_mismatch(failure: BaseException) -> str:
    """The first mismatching event and command, from Core's nondeterminism message."""
    text = str(failure)
    found = CORE_MESSAGE.search(text)
    message = found.group("message") if found else text.splitlines()[0] if text else type(failure).__name__
    event = EVENT.search(message)
    machine = MACHINE.search(message)
    parts = []
    if event:
        parts.append(f"event {event.group('id')} ({event.group('type')})")
    if machine:
        command = MACHINE_COMMANDS.get(machine.group("machine"), f"a {machine.group('machine')} command")
        parts.append(f"code issued {command}")
    head = ", ".join(parts)
    return f"{head}: {message}" if head else message


def _headline(failure: BaseException) -> str:
    # Only the type and first line: later lines (a validation error's) may quote payload data.
    return f"{type(failure).__name__}: {(str(failure).splitlines() or [''])[0][:200]}"


class _TaskFailures(logging.Handler):
    """Keeps why the SDK failed a replayed workflow task, per run, instead of printing its traceback.

    A decoding error reaches the replay result only as an encoded failure; the SDK's own
    log record still holds the exception (a wrong codec key, a payload that no longer fits).
    """

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] and isinstance(record.args, tuple) and record.args:
            self.reasons.setdefault(str(record.args[0]), _headline(record.exc_info[1]))


@functools.cache
def _task_failures() -> _TaskFailures:
    handler = _TaskFailures()
    sdk = logging.getLogger("temporalio.worker._workflow")
    sdk.addHandler(handler)
    sdk.propagate = False
    return handler


def outcome_of(result: WorkflowReplayResult) -> Outcome:
    history, failure = result.history, result.replay_failure
    run = sources.run_id(history) or None
    if failure is None:
        return Outcome(history.workflow_id, "replayed", run_id=run)
    if isinstance(failure, workflow.NondeterminismError):
        return Outcome(history.workflow_id, "nondeterministic", describe_mismatch(failure), run)
    reason = _task_failures().reasons.pop(run or "", None) or _headline(failure)
    return Outcome(history.workflow_id, "error", reason, run)


def new_replayer(settings: Settings, workflows: Sequence[type] | None = None) -> Replayer:
    """A replayer with the worker's workflows and converter (sandbox on, as the worker runs).

    ``workflows`` replaces the worker's (tests replay other versions of the code).
    """
    from workflows.registered import REPLAYABLE

    _task_failures()
    return Replayer(
        workflows=workflows or REPLAYABLE,
        data_converter=configured_converter(settings),
        build_id=REPLAY_BUILD_ID,
        runtime=_quiet_runtime(),
    )


@functools.cache
def _quiet_runtime() -> Runtime:
    """Core logs every failed replay as a WARN line on stdout; the report says it once, in order."""
    return Runtime(telemetry=TelemetryConfig(logging=None))


async def replay_all(
    items: AsyncIterator[WorkflowHistory | Outcome],
    settings: Settings,
    on_outcome: Callable[[Outcome], None],
    save_dir: Path | None = None,
    pool: ReplayPool | None = None,
    replayer: Replayer | None = None,
) -> None:
    """Replay each history as it arrives; report every outcome (fetch errors included).

    In this process with ``replayer`` (default: the worker's workflows), and in ``pool``'s
    helper processes too when there is a pool (each builds its own replayer from the
    settings the pool was given).
    """

    async def histories() -> AsyncIterator[WorkflowHistory]:
        async for item in items:
            if isinstance(item, Outcome):
                on_outcome(item)
                continue
            if save_dir is not None:
                _save(item, save_dir, on_outcome)
            yield item

    replayer = replayer or new_replayer(settings)
    if pool is not None:
        await pool.replay(histories(), on_outcome, replayer)
        return
    await replay_each(replayer, histories(), on_outcome)


async def replay_each(
    replayer: Replayer, histories: AsyncIterator[WorkflowHistory], on_outcome: Callable[[Outcome], None]
) -> None:
    """Replay ``histories`` one after another with ``replayer``, reporting each outcome."""
    async with replayer.workflow_replay_iterator(histories) as results:
        async for result in results:
            on_outcome(outcome_of(result))


def _save(history: WorkflowHistory, directory: Path, on_outcome: Callable[[Outcome], None]) -> None:
    try:
        sources.save(history, directory)
    except FileExistsError as exc:
        on_outcome(Outcome(history.workflow_id, "error", f"not saved, {exc.filename} exists"))


@dataclass(frozen=True)
class Request:
    """What to replay: exactly one source; ``limit``/``sample`` only with a query."""

    ids: list[str]
    query: str | None = None
    all: bool = False
    limit: int | None = None
    sample: int | None = None
    directory: Path | None = None
    save: Path | None = None
    concurrency: int = 16
    # Replaying processes, this one included; None: helpers on spare cores once the listing
    # holds enough histories to pay for their start-up (cli/replay_pool.helpers_for).
    processes: int | None = None

    def problem(self) -> str | None:
        chosen = [bool(self.ids), self.query is not None, self.all, self.directory is not None]
        if sum(chosen) != 1:
            return "give exactly one source: workflow ids, --query, --all or --dir"
        if (self.limit or self.sample) and not (self.query or self.all):
            return "--limit and --sample go with --query or --all"
        if self.limit and self.sample:
            return "choose --limit (the first N) or --sample (N at random)"
        if self.save is not None and self.directory is not None:
            return "--save keeps fetched histories; --dir histories are files already"
        return None


async def run_request(
    settings: Settings,
    request: Request,
    on_outcome: Callable[[Outcome], None],
    on_total: Callable[[int], None],
) -> None:
    """Fetch (or read) and replay everything the request names."""
    # Built first: bad keys fail before any fetching, and imports stay out of the measured rate.
    replayer = new_replayer(settings)
    with contextlib.ExitStack() as stack:
        pool = None
        if request.processes is not None and request.processes > 1:  # asked for: start them now
            pool = stack.enter_context(ReplayPool(settings, request.processes - 1))
        items, total = await _histories(settings, request)
        on_total(total)
        if request.processes is None and (helpers := helpers_for(total, None)) > 0:
            pool = stack.enter_context(ReplayPool(settings, helpers))
        await replay_all(items, settings, on_outcome, request.save, pool, replayer)


async def _histories(
    settings: Settings, request: Request
) -> tuple[AsyncIterator[WorkflowHistory | Outcome], int]:
    """What the request names (read or fetched as they are consumed), and how many."""
    if request.directory is not None:
        paths = sources.history_files(request.directory)
        return sources.read_files(paths), len(paths)
    client = await connect(settings)
    if request.ids:
        targets = sources.by_id(request.ids)
    else:
        query = sources.RUNNING_QUERY if request.all else str(request.query)
        targets = await sources.listed(client, query, request.limit, request.sample)
    if request.save is not None:
        request.save.mkdir(parents=True, exist_ok=True)
    return sources.fetch(client, targets, request.concurrency), len(targets)


async def replay_command(settings: Settings, request: Request) -> None:
    """``rekindle replay``: report each failure, then the JSON tally as the last line."""
    from core.runtime.process import finish

    console = Console(stderr=True)
    if (problem := request.problem()) is not None:
        console.print(f"[red]error:[/] {problem}", highlight=False, soft_wrap=True)
        finish(2)
    tally = Tally()
    try:
        with progress_bar(
            console, TextColumn("{task.fields[rate]}"), TextColumn("[red]{task.fields[bad]}"), remaining=False
        ) as progress:
            bar = progress.add_task("replaying", total=None, rate="", bad="")

            def on_outcome(outcome: Outcome) -> None:
                tally.add(outcome)
                bad = (
                    f"{tally.nondeterministic} nondeterministic, {tally.errors} errors"
                    if tally.failures
                    else ""
                )
                progress.update(bar, advance=1, rate=f"{tally.rate():.0f}/s", bad=bad)

            def on_total(total: int) -> None:
                tally.start()
                progress.update(bar, total=total)

            await run_request(dev_settings(settings), request, on_outcome, on_total)
    except (SourceError, CodecError, RuntimeError) as exc:  # RuntimeError: "Failed client connect"
        console.print(f"[red]error:[/] {str(exc).splitlines()[0]}", highlight=False, soft_wrap=True)
        typer.echo(json.dumps(tally.summary()))
        finish(2)
    _report(console, tally)
    finish(tally.exit_status())


def _report(console: Console, tally: Tally) -> None:
    elapsed = time.perf_counter() - tally.started
    console.print(
        f"{tally.total} histories in {elapsed:.2f} s ({tally.rate():.1f}/s)", highlight=False, soft_wrap=True
    )
    for outcome in sorted(tally.failures, key=lambda o: (o.kind, o.workflow_id)):
        run = f" (run {outcome.run_id})" if outcome.run_id else ""
        typer.echo(f"{outcome.kind}: {outcome.workflow_id}{run}: {outcome.detail}")
    typer.echo(json.dumps(tally.summary()))
