"""The workflow's order book: dedupe window, queue and aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.contracts.messages import OrderItem, OrderPlaced
from core.contracts.state import CarriedState
from core.domain.ledger import OrderLedger

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


def test_ledger_carry_budget_bounds_what_continue_as_new_carries() -> None:
    ledger = OrderLedger()
    items = [OrderItem(sku=f"SKU-{n}-with-a-long-name", category="knitwear", kept=True) for n in range(199)]
    for n in range(10):  # 200 units per order
        ledger.offer(order(f"o-{n}").model_copy(update={"items": items}))
    assert not ledger.over_carry_budget()  # 2,000 units: exactly the budget
    ledger.offer(order("o-10"))
    assert ledger.over_carry_budget()
    carried = CarriedState.model_validate(ledger.carry())
    assert len(carried.model_dump_json()) < 2_000_000 // 2
