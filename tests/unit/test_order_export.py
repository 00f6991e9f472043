"""One order export format: `rekindle import` and `rekindle model` agree on every row."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from cli.importer import ImportAborted, read_rows
from cli.model import OrdersFileError, read_orders
from cli.order_export import BadRow, ExportRow, read_export

EXPORT = (
    "Client_ID, Ordered_At ,AMOUNT,order_id,currency\n"  # any case, padded names
    "c-1,2025-01-01,10.00,,\n"  # 2: a date, no id, no currency
    "c-1,2025-01-02T23:30:00+02:00,5,o-2,EUR\n"  # 3: an offset is kept
    "c-2,yesterday,1,,\n"  # 4
    "c-2,2025-01-03,-1,,\n"  # 5: negative
    "c-2,2025-01-03,NaN,,\n"  # 6: not finite
    "ada@example.com,2025-01-03,1,,\n"  # 7: an email is not a client id
    "c-3,2025-01-03\n"  # 8: too few fields
    "\n"  # 9: blank, skipped
    "c-3,2025-01-04T08:00:00,7.5,,\n"  # 10: naive means UTC
    "c-3,2025-01-05,1,o-\x001,\n"  # 11: PostgreSQL text cannot hold NUL
)
BAD = {4: "ordered_at", 5: "amount", 6: "amount", 7: "client_id", 8: "row", 11: "order_id"}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(EXPORT)
    return path


def test_order_export_rows_and_their_reasons(export: Path) -> None:
    rows = list(read_export(export))
    assert {r.line: r.reason.split(":")[0] for r in rows if isinstance(r, BadRow)} == BAD
    good = [r for r in rows if isinstance(r, ExportRow)]
    assert [(r.line, r.client_id, r.amount) for r in good] == [
        (2, "c-1", Decimal("10.00")),
        (3, "c-1", Decimal("5")),
        (10, "c-3", Decimal("7.5")),
    ]
    assert good[0].placed_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert good[1].placed_at.utcoffset() == timedelta(hours=2)
    assert good[1].placed_at == datetime(2025, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    assert good[2].placed_at == datetime(2025, 1, 4, 8, tzinfo=UTC)
    reasons = {r.line: r.reason for r in rows if isinstance(r, BadRow)}
    assert "ada@example.com" not in reasons[7]  # a client id may be personal: never echoed
    assert reasons[4] == "ordered_at: 'yesterday' is not an ISO date or datetime"
    assert reasons[11] == "order_id: contains a NUL (U+0000) character"


def test_order_export_import_and_model_agree_on_every_row(export: Path) -> None:
    imported = list(read_rows(export, "USD"))
    assert {r.line for r in imported if isinstance(r, BadRow)} == set(BAD)
    with pytest.raises(OrdersFileError) as failed:
        read_orders(export)
    assert failed.value.problems[0] == f"{len(BAD)} malformed row(s):"
    assert [p.split(":")[0] for p in failed.value.problems[1:]] == [f"line {n}" for n in sorted(BAD)]

    clean = export.with_name("clean.csv")
    kept = [line for n, line in enumerate(EXPORT.splitlines(), 1) if n not in BAD]
    clean.write_text("\n".join(kept) + "\n")
    orders = read_orders(clean)
    sent = [r for r in read_rows(clean, "USD") if not isinstance(r, BadRow)]
    assert len(orders.days) == len(sent) == 3
    assert orders.client_names == ["c-1", "c-3"]
    assert [float(r.order.amount) for r in sent] == list(orders.amounts)


def test_order_export_derived_ids_hash_the_raw_fields_as_before(export: Path) -> None:
    """A row without an order id gets the id earlier versions derived (a re-run after an
    upgrade must not send the same order under a new id)."""
    first = next(r for r in read_rows(export, "USD") if not isinstance(r, BadRow))
    raw = "\x1f".join(["c-1", "2025-01-01", "10.00", "", ""])
    assert first.order.order_id == "imp-" + hashlib.sha256(raw.encode()).hexdigest()[:28]
    assert first.order.currency == "USD"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "the file is empty"), ("customer,date,value\nx,2025-01-01,1\n", "the header lacks client_id")],
)
def test_order_export_unusable_files_stop_both_commands(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    with pytest.raises(ImportAborted, match=problem):
        list(read_rows(path, "USD"))
    with pytest.raises(OrdersFileError, match=problem):
        read_orders(path)
    path.write_bytes(b"client_id,ordered_at,amount\nc-1,2025-01-01,\xff\n")
    with pytest.raises(OrdersFileError, match="not UTF-8"):
        read_orders(path)
