"""The order export format, read one way by ``rekindle import`` and ``rekindle model``.

A UTF-8 CSV (a byte-order mark is fine) whose header names ``client_id``, ``ordered_at`` and
``amount`` (any case, any order), optionally ``order_id`` and ``currency``. A row is valid when:

- ``client_id`` is a Rekindle client id (``core.contracts.messages.CLIENT_ID_PATTERN``: no ``@``);
- ``ordered_at`` is an ISO date (midnight UTC) or datetime (UTC when it names no zone; an
  offset is kept, so the model's day is the one the export's calendar says);
- ``amount`` is a finite, non-negative decimal number;
- it has as many fields as the header;
- no field it reads holds a NUL character (PostgreSQL text cannot store one).

Blank lines are skipped. Each row keeps its physical line number (the importer resumes from
it). What each command does with a valid row (an ``OrderPlaced``, a day and an amount for the
model) is its own business; what counts as valid is decided here.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from core.contracts.messages import CLIENT_ID_PATTERN

REQUIRED_COLUMNS = ("client_id", "ordered_at", "amount")
OPTIONAL_COLUMNS = ("order_id", "currency")
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class ExportError(Exception):
    """The file cannot be read as an order export at all (header, encoding, CSV syntax)."""


@dataclass(frozen=True)
class ExportRow:
    line: int
    client_id: str
    placed_at: datetime  # aware (the export's offset, or UTC)
    amount: Decimal
    order_id: str | None
    currency: str | None
    fields: tuple[str, ...]  # the raw fields, for an id derived from the whole row


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str  # "column: what is wrong" (a client id is never echoed: it may be personal)


def parse_time(text: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC when it names no zone), always aware."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_amount(text: str) -> Decimal:
    value = Decimal(text.strip())
    if not value.is_finite() or value < 0:
        raise InvalidOperation(text)
    return value


def read_export(path: Path) -> Iterator[ExportRow | BadRow]:
    """Every row of the export, valid or with the reason it is not; ``ExportError`` when the
    file itself is unusable (raised when the header is read, or at the row it breaks on)."""
    line = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = _columns(next(reader, None))
            for fields in reader:
                line = reader.line_num
                if any(field.strip() for field in fields):
                    yield _row(line, fields, header)
    except csv.Error as exc:
        raise ExportError(f"line {line + 1}: unreadable CSV ({exc})") from None
    except UnicodeDecodeError:
        raise ExportError(f"after line {line}: not UTF-8 text") from None


@dataclass(frozen=True)
class _Header:
    index: dict[str, int]  # column name -> position, for the columns we read
    width: int


def _columns(header: list[str] | None) -> _Header:
    if header is None:
        raise ExportError("the file is empty (expected a header line)")
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ExportError(f"the header lacks {', '.join(missing)}")
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    return _Header({name: names.index(name) for name in known if name in names}, len(names))


def _row(line: int, fields: list[str], header: _Header) -> ExportRow | BadRow:
    if len(fields) != header.width:
        return BadRow(line, f"row: expected {header.width} fields, found {len(fields)}")

    def field(name: str) -> str:
        return fields[header.index[name]].strip() if name in header.index else ""

    client_id = field("client_id")
    if not _CLIENT_ID.match(client_id):
        return BadRow(line, "client_id: not a valid client id")
    for name, at in header.index.items():
        if "\x00" in fields[at]:  # PostgreSQL text cannot hold it: recording would fail for ever
            return BadRow(line, f"{name}: contains a NUL (U+0000) character")
    try:
        placed_at = parse_time(field("ordered_at"))
    except ValueError:
        return BadRow(line, f"ordered_at: {field('ordered_at')!r} is not an ISO date or datetime")
    try:
        amount = parse_amount(field("amount"))
    except (InvalidOperation, ValueError):
        return BadRow(line, f"amount: {field('amount')!r} is not a non-negative number")
    order_id, currency = field("order_id") or None, field("currency") or None
    return ExportRow(line, client_id, placed_at, amount, order_id, currency, tuple(fields))
