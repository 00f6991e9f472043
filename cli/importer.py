"""``rekindle import ORDERS.csv``: backfill an order export into the client workflows.

The export is read and checked first (bad rows are reported with their line numbers and
skipped), then grouped by client: each client's history goes to its workflow as one
``orders_imported`` signal-with-start (oldest first; a history longer than
``IMPORT_BATCH_MAX`` orders takes several), a bounded number in flight. The workflow records
the history with one activity, scores the client once and drafts at most once, from the
latest order: nothing is drafted for a stale order and then cancelled by a later one.

Clients are sent in the order they first appear in the file, so the checkpoint beside the
CSV is one number: how many leading messages Temporal acknowledged. An interrupted import
resumes there; anything re-sent is harmless because orders are idempotent by id (rows
without ``order_id`` get one derived from their content). The grouped export is held in
memory (about 1 KB per order).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from cli.order_export import BadRow, ExportError, ExportRow, read_export
from cli.profile_export import ProfileHeader, ProfileRow, read_header, read_profiles
from cli.progress import progress_bar
from core.contracts.messages import IMPORT_BATCH_MAX, OrderPlaced, OrdersImported
from core.runtime.client_workflow import TemporalUnavailable, send_imported_orders
from core.runtime.settings import Settings
from core.runtime.workflow_config import WorkflowStart
from core.store.profiles import upsert_profile

CHECKPOINT_EVERY_SECONDS = 0.5
RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)  # then give up: Temporal is down, resume later
RESUME = "run the same command again to resume"
ALREADY_DONE = "{name} was imported already; --restart sends every row again (harmless)."
Deliver = Callable[[], Awaitable[None]]  # sends one message; raises *Unavailable to be retried


class ImportAborted(Exception):
    """The import stopped early (Temporal unreachable, unreadable file); resume later."""


@dataclass(frozen=True)
class Row:
    line: int
    client_id: str
    order: OrderPlaced


@dataclass(frozen=True)
class Message:
    """One ``orders_imported`` signal-with-start: ``index`` orders the checkpoint."""

    index: int
    client_id: str
    orders: list[OrderPlaced]


@dataclass
class Report:
    sent: int = 0  # orders
    clients: int = 0  # messages acknowledged in this run
    skipped: int = 0  # messages acknowledged before (resumed)
    bad: list[BadRow] = field(default_factory=list)
    already_done: bool = False

    def summary(self, name: str) -> str:
        if self.already_done:
            return ALREADY_DONE.format(name=name)
        return (
            f"sent {self.sent} orders of {self.clients} clients, {len(self.bad)} bad rows, "
            f"{self.skipped} clients done before (resumed)"
        )


def derived_order_id(values: tuple[str, ...]) -> str:
    """A stable id for a row without one: re-running the import re-sends the same id."""
    return "imp-" + hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:28]


def to_order(row: ExportRow, currency: str) -> Row | BadRow:
    """The export row as the ``order_placed`` signal's payload (``currency`` when it names none)."""
    try:
        order = OrderPlaced(
            order_id=row.order_id or derived_order_id(row.fields),
            placed_at=row.placed_at,
            amount=row.amount,
            currency=row.currency or currency,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        return BadRow(row.line, f"{name}: {first['msg'].removeprefix('Value error, ')}")
    return Row(row.line, row.client_id, order)


def read_rows(path: Path, currency: str) -> Iterator[Row | BadRow]:
    """Rows with their physical line numbers (``cli.order_export`` decides what is valid)."""
    try:
        for row in read_export(path):
            yield row if isinstance(row, BadRow) else to_order(row, currency)
    except ExportError as exc:
        raise ImportAborted(f"{path.name}: {exc}") from None


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)


class Checkpoint:
    """``{"messages": N, ...}``: the first N messages (clients, in file order) were acknowledged.

    Tied to the file by its size and a hash of its start, so a different export
    under the same name starts over instead of skipping clients.
    """

    def __init__(self, csv_path: Path, path: Path | None = None) -> None:
        self.path = path or csv_path.with_name(csv_path.name + ".import-state")
        self.identity = self._identity(csv_path)

    @staticmethod
    def _identity(csv_path: Path) -> dict[str, object]:
        with csv_path.open("rb") as handle:
            head = hashlib.sha256(handle.read(1 << 16)).hexdigest()
        return {"size": csv_path.stat().st_size, "head": head}

    def load(self) -> tuple[int, bool]:
        """(messages acknowledged, finished) for this file; (0, False) if none or stale.

        A checkpoint an older version wrote (by line) starts over: re-sent orders are harmless.
        """
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return 0, False
        if not isinstance(state, dict) or any(state.get(k) != v for k, v in self.identity.items()):
            return 0, False
        return int(state.get("messages", 0)), bool(state.get("done", False)) and "messages" in state

    def save(self, messages: int, done: bool = False) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({**self.identity, "messages": messages, "done": done}))
        os.replace(tmp, self.path)


def group_by_client(rows: Iterator[Row | BadRow], report: Report, console: Console) -> list[Message]:
    """Each client's orders, oldest first, as messages in the order clients first appear."""
    histories: dict[str, list[OrderPlaced]] = {}
    for item in rows:
        if isinstance(item, BadRow):
            report.bad.append(item)
            console.print(f"line {item.line}: {item.reason}", highlight=False)
        else:
            histories.setdefault(item.client_id, []).append(item.order)
    messages: list[Message] = []
    for client_id, orders in histories.items():
        orders.sort(key=lambda o: o.placed_at)
        for at in range(0, len(orders), IMPORT_BATCH_MAX):
            messages.append(Message(len(messages), client_id, orders[at : at + IMPORT_BATCH_MAX]))
    return messages


class DatabaseUnavailable(Exception):
    """The read model could not be reached (retried like Temporal, then the import stops)."""


class Importer:
    """Runs deliveries (one per message) with at most ``concurrency`` in flight, retries the
    ones Temporal or the database could not take, and keeps the checkpoint honest."""

    def __init__(self, checkpoint: Checkpoint, concurrency: int) -> None:
        self.checkpoint = checkpoint
        self.gate = asyncio.Semaphore(concurrency)
        self.in_flight: set[int] = set()
        self.dispatched = 0  # messages handed out so far (their indexes are below this)
        self.failure: BaseException | None = None
        self.last_saved = time.monotonic()

    def acknowledged(self) -> int:
        """How many leading messages are done: the resume point after a crash."""
        return min(self.in_flight) if self.in_flight else self.dispatched

    async def send(self, index: int, deliver: Deliver, done: Callable[[], None]) -> None:
        """Deliver one message; one that fails stays in flight so the checkpoint stays below it."""
        try:
            await self._with_retries(deliver)
        except Exception as exc:
            self.failure = self.failure or exc
        else:
            self.in_flight.discard(index)
            done()
        finally:
            self.gate.release()
            self.maybe_save()

    @staticmethod
    async def _with_retries(deliver: Deliver) -> None:
        for delay in RETRY_DELAYS:
            try:
                await deliver()
                return
            except (TemporalUnavailable, DatabaseUnavailable):
                await asyncio.sleep(delay)
        try:
            await deliver()
        except TemporalUnavailable:
            raise ImportAborted(f"Temporal is unreachable; {RESUME}") from None
        except DatabaseUnavailable:
            raise ImportAborted(f"the database is unreachable; {RESUME}") from None

    def maybe_save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_saved >= CHECKPOINT_EVERY_SECONDS:
            self.checkpoint.save(self.acknowledged())
            self.last_saved = time.monotonic()

    async def dispatch(
        self, index: int, deliver: Deliver, done: Callable[[], None], tasks: set[asyncio.Task[None]]
    ) -> None:
        await self.gate.acquire()
        if self.failure is not None:
            self.gate.release()
            raise self.failure
        self.in_flight.add(index)
        self.dispatched = index + 1
        task = asyncio.create_task(self.send(index, deliver, done))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for what is in flight; raise the first failure."""
        await asyncio.gather(*tasks)
        if self.failure is not None:
            raise self.failure

    async def stop(self, tasks: set[asyncio.Task[None]]) -> None:
        """Cancel what is still in flight and save the checkpoint (always runs)."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.maybe_save(force=True)


def _resume(path: Path, restart: bool) -> tuple[Checkpoint, int | None]:
    """The file's checkpoint and how many messages to skip; None: it was imported already."""
    checkpoint = Checkpoint(path)
    start, done = (0, False) if restart else checkpoint.load()
    return checkpoint, None if done else start


async def run_import(
    path: Path,
    temporal: Client,
    settings: Settings,
    *,
    currency: str = "USD",
    concurrency: int = 64,
    restart: bool = False,
    console: Console | None = None,
) -> Report:
    """Import ``path``; bad rows are reported, not fatal. Raises ImportAborted to stop early."""
    checkpoint, start = _resume(path, restart)
    if start is None:
        return Report(already_done=True)
    console = console or Console(stderr=True)
    report = Report()
    messages = group_by_client(read_rows(path, currency), report, console)
    workflow_start = WorkflowStart.from_settings(settings)
    importer = Importer(checkpoint, concurrency)
    importer.dispatched = report.skipped = min(start, len(messages))
    tasks: set[asyncio.Task[None]] = set()
    with progress_bar(console) as progress:
        bar = progress.add_task("clients", total=len(messages), completed=report.skipped)

        def sender(message: Message) -> tuple[Deliver, Callable[[], None]]:
            batch = OrdersImported(orders=message.orders)

            async def deliver() -> None:
                await send_imported_orders(temporal, workflow_start, message.client_id, batch)

            def done() -> None:
                report.sent += len(message.orders)
                report.clients += 1
                progress.advance(bar)

            return deliver, done

        try:
            for message in messages[report.skipped :]:
                await importer.dispatch(message.index, *sender(message), tasks)
            await importer.drain(tasks)
        finally:
            await importer.stop(tasks)
    checkpoint.save(importer.acknowledged(), done=True)
    return report


@dataclass
class ProfileReport:
    stored: int = 0  # profiles stored in this run
    changed: int = 0  # of which new or different
    skipped: int = 0  # profiles stored before (resumed)
    bad: list[BadRow] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    already_done: bool = False

    def summary(self, name: str) -> str:
        if self.already_done:
            return ALREADY_DONE.format(name=name)
        return (
            f"stored {self.stored} profiles ({self.changed} new or changed), {len(self.bad)} bad rows, "
            f"{self.skipped} profiles done before (resumed)"
        )


async def run_profile_import(
    path: Path,
    temporal: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    concurrency: int = 64,
    restart: bool = False,
    console: Console | None = None,
) -> ProfileReport:
    """Import a profile export (``cli.profile_export``): each valid row is stored in the read
    model and told to the client's workflow, as ``PUT /v1/clients/{id}`` does, at most
    ``concurrency`` at a time. Streams the file; resumable (the checkpoint counts valid rows
    done, in file order); idempotent (the same profile again changes nothing). Bad rows are
    reported, not fatal; raises ImportAborted to stop early."""
    checkpoint, start = _resume(path, restart)
    if start is None:
        return ProfileReport(already_done=True)
    console = console or Console(stderr=True)
    report = ProfileReport()
    try:
        header = read_header(path)
    except ExportError as exc:
        raise ImportAborted(f"{path.name}: {exc}") from None
    report.ignored_columns = header.ignored
    if header.ignored:
        console.print(f"{path.name}: ignoring columns {', '.join(header.ignored)}", highlight=False)
    workflow_start = WorkflowStart.from_settings(settings)
    importer = Importer(checkpoint, concurrency)
    importer.dispatched = start
    tasks: set[asyncio.Task[None]] = set()
    with progress_bar(console) as progress:
        bar = progress.add_task("profiles", total=count_rows(path))

        def sender(row: ProfileRow) -> tuple[Deliver, Callable[[], None]]:
            changed = False

            async def deliver() -> None:
                nonlocal changed
                try:
                    _, changed = await upsert_profile(
                        temporal, workflow_start, sessions, row.client_id, row.profile
                    )
                except (OperationalError, InterfaceError):
                    raise DatabaseUnavailable() from None
                except SQLAlchemyError as exc:  # the row's values stay out of the message
                    raise ImportAborted(
                        f"{path.name} line {row.line}: the database refused the profile "
                        f"({type(exc).__name__}); rows before it are stored, run again to resume"
                    ) from None

            def done() -> None:
                report.stored += 1
                report.changed += changed
                progress.advance(bar)

            return deliver, done

        try:
            index = 0
            for item in _read_profiles(path, header):
                if isinstance(item, BadRow):
                    report.bad.append(item)
                    console.print(f"line {item.line}: {item.reason}", highlight=False)
                    progress.advance(bar)
                    continue
                if index < start:
                    report.skipped += 1
                    progress.advance(bar)
                else:
                    await importer.dispatch(index, *sender(item), tasks)
                index += 1
            await importer.drain(tasks)
        finally:
            await importer.stop(tasks)
    checkpoint.save(importer.acknowledged(), done=True)
    return report


def _read_profiles(path: Path, header: ProfileHeader) -> Iterator[ProfileRow | BadRow]:
    try:
        yield from read_profiles(path, header)
    except ExportError as exc:
        raise ImportAborted(f"{path.name}: {exc}") from None


async def import_command(
    settings: Settings,
    path: Path | None,
    profiles: Path | None,
    currency: str,
    concurrency: int,
    restart: bool,
) -> None:
    """``rekindle import``: connect, import profiles then orders, summarise; exit 2 when rows
    were bad.

    Profiles go first, so a client scored from its history is drafted knowing its address.
    Beside ``make run`` it needs no settings: it reads the dev stack's codec key, Temporal
    address and database from its data folder (``cli.devdata``), as ``rekindle replay`` does.
    """
    from cli.devdata import dev_settings
    from core.runtime.process import finish
    from core.runtime.temporal import connect
    from core.store.datakeys import data_keys_for
    from core.store.db import create_engine, session_factory

    settings = dev_settings(settings)
    console = Console(stderr=True)
    # Profiles and orders go to client workflows encrypted under each client's data key.
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    temporal = await connect(settings, lazy=True, data_keys=data_keys_for(settings, sessions))
    reports: list[Report | ProfileReport] = []
    try:
        if profiles is not None:
            reports.append(
                await run_profile_import(
                    profiles,
                    temporal,
                    settings,
                    sessions,
                    concurrency=concurrency,
                    restart=restart,
                    console=console,
                )
            )
            console.print(reports[-1].summary(profiles.name), highlight=False)
        if path is not None:
            reports.append(
                await run_import(
                    path,
                    temporal,
                    settings,
                    currency=currency,
                    concurrency=concurrency,
                    restart=restart,
                    console=console,
                )
            )
            console.print(reports[-1].summary(path.name), highlight=False)
    finally:
        await engine.dispose()
    if any(report.bad for report in reports):
        finish(2)
