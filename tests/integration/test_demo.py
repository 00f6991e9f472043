"""``rekindle demo`` against the real stack: every client and order lands once, a re-run changes nothing."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.demo import DemoFailed, run_demo
from core.contracts import ClientStateView, client_workflow_id
from core.models import Client, Order
from tests.helpers import eventually, unique_id
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
CLIENTS = 12


async def _counts(sessions: async_sessionmaker[AsyncSession], prefix: str) -> tuple[int, int, int]:
    async with sessions() as session:
        clients = select(func.count()).select_from(Client).where(Client.id.like(f"{prefix}-%"))
        named = clients.where(Client.email.like("%@example.com"), Client.time_zone.is_not(None))
        orders = select(func.count()).select_from(Order).where(Order.client_id.like(f"{prefix}-%"))
        return (
            int((await session.execute(clients)).scalar_one()),
            int((await session.execute(named)).scalar_one()),
            int((await session.execute(orders)).scalar_one()),
        )


async def _states(stack: Stack, client_ids: list[str]) -> list[ClientStateView]:
    handles = [stack.temporal.get_workflow_handle(client_workflow_id(c)) for c in client_ids]
    return list(await asyncio.gather(*(h.query("state", result_type=ClientStateView) for h in handles)))


async def test_demo_seeds_through_the_api_and_a_rerun_changes_nothing(stack: Stack) -> None:
    prefix = unique_id("demo")
    quiet = Console(quiet=True)

    async def demo() -> int:
        report = await run_demo(stack.settings, CLIENTS, 7, stack.base_url, stack.api_key, prefix, quiet)
        assert report.clients == CLIENTS
        return report.orders

    orders = await demo()
    ids = [f"{prefix}-{i:05d}" for i in range(1, CLIENTS + 1)]
    await eventually(lambda: _all_recorded(stack, ids, orders), timeout=60)
    first = await _counts(stack.sessions, prefix)
    assert first == (CLIENTS, CLIENTS, orders)
    before = {s.client_id: s.history_length for s in await _states(stack, ids)}

    assert await demo() == orders  # every order re-sent and accepted ...
    await eventually(lambda: _all_grew(stack, ids, before), timeout=60)
    assert await _counts(stack.sessions, prefix) == first  # ... and deduplicated
    assert sum(s.order_count for s in await _states(stack, ids)) == orders


async def _all_recorded(stack: Stack, ids: list[str], orders: int) -> bool:
    states = await _states(stack, ids)
    return sum(s.order_count for s in states) == orders and all(s.pending_orders == 0 for s in states)


async def _all_grew(stack: Stack, ids: list[str], before: dict[str, int]) -> bool:
    # The re-sent signals have reached every workflow (and changed nothing there).
    return all(s.history_length > before[s.client_id] for s in await _states(stack, ids))


async def test_demo_refuses_a_key_it_is_not_given(stack: Stack) -> None:
    with pytest.raises(DemoFailed, match="refused the key"):
        await run_demo(
            stack.settings, 2, 7, stack.base_url, "rk_not_a_key", unique_id("demo"), Console(quiet=True)
        )


async def test_demo_names_a_stack_that_is_not_running(stack: Stack) -> None:
    with pytest.raises(DemoFailed, match="make run"):
        await run_demo(
            stack.settings, 2, 7, "http://127.0.0.1:9", "key", unique_id("demo"), Console(quiet=True)
        )
