"""``rekindle import ORDERS.csv``: backfill an order export straight into the client workflows.

Rows stream from the file to Temporal as ``order_placed`` signal-with-starts, a bounded
number in flight. A checkpoint beside the CSV records the last line below which every
row was acknowledged, so an interrupted import resumes there; anything re-sent is
harmless because orders are idempotent by id (rows without ``order_id`` get one derived
from their content). Bad rows are reported with their line numbers and skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Iterator
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
from core.client_workflow import TemporalUnavailable, send_order
from core.contracts import OrderPlaced
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


@dataclass
class Report:
    sent: int = 0
    skipped: int = 0
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
    """``{"line": N, ...}``: every row on lines <= N was acknowledged by Temporal.

    Tied to the file by its size and a hash of its start, so a different export
    under the same name starts over instead of skipping rows.
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
        """(last acknowledged line, finished) for this file; (0, False) if none or stale."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return 0, False
        if not isinstance(state, dict) or any(state.get(k) != v for k, v in self.identity.items()):
            return 0, False
        return int(state.get("line", 0)), bool(state.get("done", False))

    def save(self, line: int, done: bool = False) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({**self.identity, "line": line, "done": done}))
        os.replace(tmp, self.path)


class Importer:
    """Sends rows with at most ``concurrency`` in flight and keeps the checkpoint honest."""

    def __init__(
        self, temporal: Client, settings: Settings, checkpoint: Checkpoint, concurrency: int
    ) -> None:
        self.temporal = temporal
        self.start = WorkflowStart.from_settings(settings)
        self.checkpoint = checkpoint
        self.gate = asyncio.Semaphore(concurrency)
        self.in_flight: set[int] = set()
        self.dispatched = 0  # highest line handed out (sent, or bad and skipped)
        self.failure: BaseException | None = None
        self.last_saved = time.monotonic()

    def acknowledged(self) -> int:
        """The line below which everything is done: resume point after a crash."""
        return min(self.in_flight) - 1 if self.in_flight else self.dispatched

    async def send(self, row: Row, report: Report) -> None:
        """Send one row; a row that fails stays in flight so the checkpoint stays below it."""
        try:
            await self._send_with_retries(row)
        except Exception as exc:
            self.failure = self.failure or exc
        else:
            self.in_flight.discard(row.line)
            report.sent += 1
        finally:
            self.gate.release()
            self.maybe_save()

    async def _send_with_retries(self, row: Row) -> None:
        for delay in RETRY_DELAYS:
            try:
                await send_order(self.temporal, self.start, row.client_id, row.order)
                return
            except TemporalUnavailable:
                await asyncio.sleep(delay)
        try:
            await send_order(self.temporal, self.start, row.client_id, row.order)
        except TemporalUnavailable:
            raise ImportAborted("Temporal is unreachable; run the same command again to resume") from None

    def maybe_save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_saved >= CHECKPOINT_EVERY_SECONDS:
            self.checkpoint.save(self.acknowledged())
            self.last_saved = time.monotonic()

    async def dispatch(self, row: Row, report: Report, tasks: set[asyncio.Task[None]]) -> None:
        await self.gate.acquire()
        if self.failure is not None:
            self.gate.release()
            raise self.failure
        self.in_flight.add(row.line)
        self.dispatched = row.line
        task = asyncio.create_task(self.send(row, report))
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
    importer = Importer(temporal, settings, checkpoint, concurrency)
    importer.dispatched = start
    tasks: set[asyncio.Task[None]] = set()
    with _progress(console) as progress:
        bar = progress.add_task("orders", total=count_rows(path))
        try:
            for item in read_rows(path, currency):
                progress.advance(bar)
                if item.line <= start:
                    report.skipped += 1
                elif isinstance(item, BadRow):
                    report.bad.append(item)
                    console.print(f"line {item.line}: {item.reason}", highlight=False)
                    importer.dispatched = max(importer.dispatched, item.line)
                else:
                    await importer.dispatch(item, report, tasks)
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
        f"sent {report.sent} orders, {len(report.bad)} bad rows, {report.skipped} rows done before (resumed)"
    )
    if report.bad:
        finish(2)
