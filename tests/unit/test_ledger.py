"""The workflow's order book: dedupe window, queue and aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.contracts import CarriedState, OrderPlaced
from core.ledger import OrderLedger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def order(order_id: str, days: int = 0) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id, placed_at=T0 + timedelta(days=days), currency="USD", amount=Decimal(1)
    )


def test_ledger_duplicates_change_nothing() -> None:
    ledger = OrderLedger()
    assert ledger.offer(order("a"))
    assert not ledger.offer(order("a"))
    ledger.recorded(order("a"))
    assert not ledger.offer(order("a"))
    assert (ledger.order_count, ledger.duplicates, len(ledger.pending)) == (1, 2, 0)


def test_ledger_out_of_order_delivery_keeps_bounds() -> None:
    ledger = OrderLedger()
    for o in (order("late", 10), order("early", 2)):
        ledger.offer(o)
        ledger.recorded(o)
    assert (ledger.first_order_at, ledger.last_order_at) == (T0 + timedelta(2), T0 + timedelta(10))


def test_ledger_window_is_bounded_and_survives_carry() -> None:
    ledger = OrderLedger(window=3)
    for i in range(5):
        ledger.offer(order(f"o{i}", i))
        ledger.recorded(order(f"o{i}", i), order_count=i + 1)
    assert list(ledger.recent) == ["o2", "o3", "o4"]
    ledger.offer(order("queued", 9))
    again = OrderLedger(CarriedState.model_validate(ledger.carry()), window=3)
    assert not again.offer(order("o4"))
    assert not again.offer(order("queued"))
    assert again.offer(order("o0"))  # fell out of the window: the database insert still dedupes
    assert [o.order_id for o in again.pending] == ["queued", "o0"]
    assert again.order_count == 5
