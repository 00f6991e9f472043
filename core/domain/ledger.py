"""The client workflow's order book: dedupe window, queue and bounded aggregate.

Pure state with no Temporal imports, so it is unit-tested directly. Signals
``offer`` orders (synchronously, in the handler); the main loop takes the head
of the queue, records it through an activity, then marks it ``recorded``.
Memory stays bounded: a window of recent order ids (server-side signal dedupe
does not span runs) and a handful of numbers, never the whole order list.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from core.contracts.messages import OrderPlaced
from core.contracts.state import CarriedState

RECENT_ORDER_IDS = 1000
# What continue-as-new may carry of unrecorded orders, counted as orders plus their items
# (an order with 200 items is ~25 KB of JSON): ~2,000 units stay far below the 2 MB payload limit.
CARRY_BUDGET = 2000


class OrderLedger:
    """Orders seen by this client's workflow, across continue-as-new."""

    def __init__(self, carried: CarriedState | None = None, window: int = RECENT_ORDER_IDS) -> None:
        carried = carried or CarriedState()
        self.recent: deque[str] = deque(carried.recent_order_ids, maxlen=window)
        self.pending: deque[OrderPlaced] = deque(carried.pending_orders)
        self.order_count = carried.order_count
        self.first_order_at = carried.first_order_at
        self.last_order_at = carried.last_order_at
        self.duplicates = carried.duplicate_orders
        self._seen = set(self.recent) | {o.order_id for o in self.pending}

    def offer(self, order: OrderPlaced) -> bool:
        """Queue an order unless its id was seen already; ``True`` when queued."""
        if order.order_id in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(order.order_id)
        self.pending.append(order)
        return True

    def recorded(self, order: OrderPlaced, order_count: int | None = None) -> None:
        """The head of the queue is in the database: drop it and fold it into the aggregate.

        ``order_count`` is the database's count when known (it also sees orders from before
        this workflow existed); out-of-order deliveries only move the bounds they extend.
        """
        if self.pending and self.pending[0].order_id == order.order_id:
            self.pending.popleft()
        if len(self.recent) == self.recent.maxlen:
            self._seen.discard(self.recent[0])
        self.recent.append(order.order_id)
        self._seen.add(order.order_id)
        self.order_count = order_count if order_count is not None else self.order_count + 1
        self.first_order_at = _min(self.first_order_at, order.placed_at)
        self.last_order_at = _max(self.last_order_at, order.placed_at)

    def over_carry_budget(self) -> bool:
        """Too many unrecorded orders to hand to the next run: record more first."""
        return sum(1 + len(o.items) for o in self.pending) > CARRY_BUDGET

    def adopt(self, order_count: int, first: datetime | None, last: datetime | None) -> None:
        """Fold in what the database knows (a run that started without carried state)."""
        self.order_count = max(self.order_count, order_count)
        self.first_order_at = _min(self.first_order_at, first) if first else self.first_order_at
        self.last_order_at = _max(self.last_order_at, last) if last else self.last_order_at

    def carry(self) -> dict[str, object]:
        """The ledger's part of ``CarriedState``."""
        return {
            "recent_order_ids": list(self.recent),
            "pending_orders": list(self.pending),
            "order_count": self.order_count,
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
            "duplicate_orders": self.duplicates,
        }


def _min(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _max(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
