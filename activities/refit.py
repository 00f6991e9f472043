"""Activities of the model refit: load order histories in batches, fit, store a version."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts.model import (
    ACTIVITY_FIT_MODEL,
    ACTIVITY_STORE_MODEL,
    FitModelInput,
    FitModelResult,
    StoreModelInput,
    StoreModelResult,
)
from core.domain.money import exponent
from core.domain.scoring.errors import ScoringError
from core.domain.scoring.fit import fit_parameters
from core.domain.scoring.params import ModelParameters
from core.domain.scoring.summary import day_number, summarize
from core.store.db import transaction
from core.store.model_store import save_parameters
from core.store.models import Order

HEARTBEAT_EVERY = 5.0  # seconds between heartbeats while the fit runs in its thread
T = TypeVar("T")


class OrderHistory:
    """Order rows accumulated batch by batch as compact arrays (UTC days, major units)."""

    def __init__(self) -> None:
        self.client_codes: dict[str, int] = {}
        self._codes = array("q")
        self._days = array("q")
        self._amounts = array("d")
        self._scale: dict[str, float] = {}

    @property
    def n_orders(self) -> int:
        return len(self._days)

    def add(self, rows: Sequence[Any]) -> None:
        """Append rows of (id, client_id, placed_at, amount_minor, currency)."""
        codes, scale = self.client_codes, self._scale
        for _, client_id, placed_at, amount_minor, currency in rows:
            self._codes.append(codes.setdefault(client_id, len(codes)))
            self._days.append(day_number(placed_at.astimezone(UTC).date()))
            if currency not in scale:
                scale[currency] = 10.0 ** -exponent(currency)
            self._amounts.append(amount_minor * scale[currency])

    def fit(self, input: FitModelInput) -> ModelParameters:
        """Summarise as of ``calibration_end`` and fit (the defaults if data is thin)."""
        summary = summarize(
            np.frombuffer(self._codes, dtype=np.int64),
            np.frombuffer(self._days, dtype=np.int64),
            np.frombuffer(self._amounts, dtype=np.float64),
            until=input.calibration_end,
            unit=input.unit,
        )
        return fit_parameters(summary, fitted_at=input.fitted_at, version=0)


async def _heartbeating(fn: Callable[[], T]) -> T:
    """Run CPU-bound ``fn`` in a thread, heartbeating until it is done."""
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
        if done:
            return task.result()
        activity.heartbeat("fitting")


class RefitActivities:
    """Model refit activities, built with the session factory they read and write through."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _load(self, input: FitModelInput) -> OrderHistory:
        history = OrderHistory()
        end = datetime.combine(input.calibration_end + timedelta(days=1), time(), tzinfo=UTC)
        last_id = 0
        while True:
            async with self._sessions() as session:
                rows = (
                    await session.execute(
                        select(Order.id, Order.client_id, Order.placed_at, Order.amount_minor, Order.currency)
                        .where(Order.id > last_id, Order.placed_at < end)
                        .order_by(Order.id)
                        .limit(input.batch_size)
                    )
                ).all()
            if not rows:
                return history
            await asyncio.to_thread(history.add, rows)
            last_id = rows[-1][0]
            activity.heartbeat({"orders_loaded": history.n_orders})

    @activity.defn(name=ACTIVITY_FIT_MODEL)
    async def fit_model(self, input: FitModelInput) -> FitModelResult:
        """Load every order up to the calibration end in keyset batches and fit the model."""
        history = await self._load(input)
        try:
            params = await _heartbeating(lambda: history.fit(input))
        except ScoringError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
        activity.logger.info(
            "model fitted",
            extra={"orders": history.n_orders, "clients": params.n_clients, "default": params.is_default},
        )
        return FitModelResult(parameters=params, n_orders=history.n_orders)

    @activity.defn(name=ACTIVITY_STORE_MODEL)
    async def store_model_parameters(self, input: StoreModelInput) -> StoreModelResult:
        """Store the fitted set as the next version (a retry returns the first attempt's)."""
        async with transaction(self._sessions) as session:
            stored, created = await save_parameters(session, input.parameters, input.refit_id)
        return StoreModelResult(version=stored.version, created=created)
