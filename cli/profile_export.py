"""The profile export format, read by ``rekindle import --profiles``.

A UTF-8 CSV (a byte-order mark is fine) whose header names ``client_id`` and at least one of
``email``, ``first_name``, ``last_name``, ``time_zone``, ``locale``, ``style_notes`` (any case,
any order). Other columns are ignored, and named once so a misspelt column is noticed. A row is
valid when:

- ``client_id`` is a Rekindle client id (``core.contracts.messages.CLIENT_ID_PATTERN``);
- the fields it sets pass the ``profile_updated`` contract (``core.contracts.consent.ProfileUpdated``:
  an email address, an IANA time zone, lengths), as ``PUT /v1/clients/{id}`` checks them;
- no field holds a NUL character (PostgreSQL text cannot store one);
- it has as many fields as the header.

An empty cell leaves that field as it is, as a field left out of ``PUT /v1/clients/{id}`` does.
Blank lines are skipped. A reason never echoes a value: profiles are personal data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cli.order_export import BadRow, ExportError
from core.contracts.consent import ProfileUpdated
from core.contracts.messages import CLIENT_ID_PATTERN

PROFILE_COLUMNS = tuple(ProfileUpdated.model_fields)
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
# What a rejected field says, by pydantic error type; anything else says the contract's message
# (which for these fields names a limit or a time zone, never an address or a name).
_REASONS = {
    "string_pattern_mismatch": "not an email address",
    "string_type": "not text",
}


@dataclass(frozen=True)
class ProfileRow:
    line: int
    client_id: str
    profile: ProfileUpdated


@dataclass(frozen=True)
class ProfileHeader:
    index: dict[str, int]  # column name -> position, for the columns we read
    width: int
    ignored: tuple[str, ...]  # columns the header names that are not profile fields


def read_header(path: Path) -> ProfileHeader:
    """The header, checked before anything is sent; ``ExportError`` when it is unusable."""
    with _reader(path) as rows:
        first = next(rows, None)
        return _columns(None if first is None else first[1])


def read_profiles(path: Path, header: ProfileHeader) -> Iterator[ProfileRow | BadRow]:
    """Every row after the header, valid or with the reason it is not; ``ExportError`` at the
    row where the file stops being readable CSV or UTF-8."""
    with _reader(path) as rows:
        next(rows, None)
        for line, fields in rows:
            if any(field.strip() for field in fields):
                yield _row(line, fields, header)


@contextmanager
def _reader(path: Path) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """(physical line, fields) for each CSV record, with read errors as ``ExportError``."""
    line = 0

    def records(reader: Any) -> Iterator[tuple[int, list[str]]]:
        nonlocal line
        for fields in reader:
            line = reader.line_num
            yield line, fields

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield records(csv.reader(handle))
    except csv.Error as exc:
        raise ExportError(f"line {line + 1}: unreadable CSV ({exc})") from None
    except UnicodeDecodeError:
        raise ExportError(f"after line {line}: not UTF-8 text") from None


def _columns(header: list[str] | None) -> ProfileHeader:
    if header is None:
        raise ExportError("the file is empty (expected a header line)")
    names = [h.strip().lower() for h in header]
    if "client_id" not in names:
        raise ExportError("the header lacks client_id")
    fields = [c for c in PROFILE_COLUMNS if c in names]
    if not fields:
        raise ExportError(f"the header names no profile field (one of {', '.join(PROFILE_COLUMNS)})")
    ignored = tuple(n for n in names if n != "client_id" and n not in PROFILE_COLUMNS)
    index = {name: names.index(name) for name in ("client_id", *fields)}
    return ProfileHeader(index, len(names), ignored)


def _row(line: int, fields: list[str], header: ProfileHeader) -> ProfileRow | BadRow:
    if len(fields) != header.width:
        return BadRow(line, f"row: expected {header.width} fields, found {len(fields)}")
    values = {name: fields[at].strip() for name, at in header.index.items()}
    client_id = values.pop("client_id")
    if not _CLIENT_ID.match(client_id):
        return BadRow(line, "client_id: not a valid client id")
    for name, value in values.items():
        if "\x00" in value:
            return BadRow(line, f"{name}: contains a NUL (U+0000) character")
    try:
        profile = ProfileUpdated.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        reason = _REASONS.get(first["type"]) or str(first["msg"]).removeprefix("Value error, ")
        return BadRow(line, f"{name}: {reason}")
    return ProfileRow(line, client_id, profile)
