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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from temporalio.client import Client

from cli.order_export import BadRow, ExportError, ExportRow, read_export
from core.client_workflow import TemporalUnavailable, send_imported_orders
from core.contracts import IMPORT_BATCH_MAX, OrderPlaced, OrdersImported
from core.settings import Settings
from core.workflow_config import WorkflowStart

CHECKPOINT_EVERY_SECONDS = 0.5
RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)  # then give up: Temporal is down, resume later


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


class Importer:
    """Sends messages with at most ``concurrency`` in flight and keeps the checkpoint honest."""

    def __init__(
        self, temporal: Client, settings: Settings, checkpoint: Checkpoint, concurrency: int
    ) -> None:
        self.temporal = temporal
        self.start = WorkflowStart.from_settings(settings)
        self.checkpoint = checkpoint
        self.gate = asyncio.Semaphore(concurrency)
        self.in_flight: set[int] = set()
        self.dispatched = 0  # messages handed out so far (their indexes are below this)
        self.failure: BaseException | None = None
        self.last_saved = time.monotonic()

    def acknowledged(self) -> int:
        """How many leading messages are done: the resume point after a crash."""
        return min(self.in_flight) if self.in_flight else self.dispatched

    async def send(self, message: Message, report: Report, advance: Callable[[], None]) -> None:
        """Send one message; one that fails stays in flight so the checkpoint stays below it."""
        try:
            await self._send_with_retries(message)
        except Exception as exc:
            self.failure = self.failure or exc
        else:
            self.in_flight.discard(message.index)
            report.sent += len(message.orders)
            report.clients += 1
            advance()
        finally:
            self.gate.release()
            self.maybe_save()

    async def _send_with_retries(self, message: Message) -> None:
        batch = OrdersImported(orders=message.orders)
        for delay in RETRY_DELAYS:
            try:
                await send_imported_orders(self.temporal, self.start, message.client_id, batch)
                return
            except TemporalUnavailable:
                await asyncio.sleep(delay)
        try:
            await send_imported_orders(self.temporal, self.start, message.client_id, batch)
        except TemporalUnavailable:
            raise ImportAborted("Temporal is unreachable; run the same command again to resume") from None

    def maybe_save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_saved >= CHECKPOINT_EVERY_SECONDS:
            self.checkpoint.save(self.acknowledged())
            self.last_saved = time.monotonic()

    async def dispatch(
        self, message: Message, report: Report, advance: Callable[[], None], tasks: set[asyncio.Task[None]]
    ) -> None:
        await self.gate.acquire()
        if self.failure is not None:
            self.gate.release()
            raise self.failure
        self.in_flight.add(message.index)
        self.dispatched = message.index + 1
        task = asyncio.create_task(self.send(message, report, advance))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


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
    console = console or Console(stderr=True)
    checkpoint = Checkpoint(path)
    start, done = (0, False) if restart else checkpoint.load()
    report = Report()
    if done:
        report.already_done = True
        return report
    messages = group_by_client(read_rows(path, currency), report, console)
    importer = Importer(temporal, settings, checkpoint, concurrency)
    importer.dispatched = report.skipped = min(start, len(messages))
    tasks: set[asyncio.Task[None]] = set()
    with _progress(console) as progress:
        bar = progress.add_task("clients", total=len(messages), completed=report.skipped)

        def advance() -> None:
            progress.advance(bar)

        try:
            for message in messages[report.skipped :]:
                await importer.dispatch(message, report, advance, tasks)
            await asyncio.gather(*tasks)
            if importer.failure is not None:
                raise importer.failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            importer.maybe_save(force=True)
    checkpoint.save(importer.acknowledged(), done=True)
    return report


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


async def import_command(
    settings: Settings, path: Path, currency: str, concurrency: int, restart: bool
) -> None:
    """``rekindle import``: connect, import, summarise; exit 2 when rows were bad.

    Beside ``make run`` it needs no settings: it reads the dev stack's codec key and Temporal
    address from its data folder (``cli.devdata``), as ``rekindle replay`` does.
    """
    from cli.devdata import dev_settings
    from core.datakeys import data_keys_for
    from core.db import create_engine, session_factory
    from core.process import finish
    from core.temporal import connect

    settings = dev_settings(settings)
    console = Console(stderr=True)
    # Orders go straight to client workflows: encrypted under each client's data key.
    engine = create_engine(settings.database)
    temporal = await connect(settings, lazy=True, data_keys=data_keys_for(settings, session_factory(engine)))
    report = await run_import(
        path, temporal, settings, currency=currency, concurrency=concurrency, restart=restart, console=console
    )
    if report.already_done:
        console.print(f"{path.name} was imported already; --restart sends every row again (harmless).")
        return
    console.print(
        f"sent {report.sent} orders of {report.clients} clients, {len(report.bad)} bad rows, "
        f"{report.skipped} clients done before (resumed)"
    )
    if report.bad:
        finish(2)
