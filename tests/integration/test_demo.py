"""``rekindle demo`` against the real stack: every client, order and past win-back email lands
once, a re-run changes nothing, and the uplift page has a report to show."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.demo import DemoFailed, run_demo
from cli.demo_population import DemoClient, build_population
from core.contracts.messages import QUERY_STATE, client_workflow_id
from core.contracts.state import ClientStateView
from core.domain.uplift import Arm, count_episodes
from core.store.db import utcnow
from core.store.models import Client, Email, Order
from core.store.opsusers import create_user
from tests.helpers import demo_episodes, eventually, unique_id
from tests.integration.conftest import Stack
from tests.ui.conftest import OPS_PASSWORD, OPS_USER, sign_in

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
CLIENTS = 12
# The smallest demo whose past campaign fills the 30-day window of both arms (34 held out).
UPLIFT_CLIENTS = 250
ARMS: tuple[Arm, ...] = ("emailed", "holdout")


async def _counts(sessions: async_sessionmaker[AsyncSession], prefix: str) -> tuple[int, int, int, int]:
    async with sessions() as session:
        clients = select(func.count()).select_from(Client).where(Client.id.like(f"{prefix}-%"))
        named = clients.where(Client.email.like("%@example.com"), Client.time_zone.is_not(None))
        orders = select(func.count()).select_from(Order).where(Order.client_id.like(f"{prefix}-%"))
        emails = select(func.count()).select_from(Email).where(Email.generator == "import")
        return (
            int((await session.execute(clients)).scalar_one()),
            int((await session.execute(named)).scalar_one()),
            int((await session.execute(orders)).scalar_one()),
            int((await session.execute(emails)).scalar_one()),
        )


async def _states(stack: Stack, client_ids: list[str]) -> list[ClientStateView]:
    handles = [stack.temporal.get_workflow_handle(client_workflow_id(c)) for c in client_ids]
    return list(await asyncio.gather(*(h.query(QUERY_STATE, result_type=ClientStateView) for h in handles)))


async def test_demo_seeds_through_the_api_and_a_rerun_changes_nothing(stack: Stack) -> None:
    prefix = unique_id("demo")
    quiet = Console(quiet=True)

    episodes = sum(c.episode is not None for c in build_population(CLIENTS, 7, utcnow().date()))
    assert episodes > 0

    async def demo(imported: int) -> int:
        report = await run_demo(stack.settings, CLIENTS, 7, stack.base_url, stack.api_key, prefix, quiet)
        assert report.clients == CLIENTS
        assert (report.episodes_imported, report.episodes_present) == (imported, episodes - imported)
        return report.orders

    orders = await demo(imported=episodes)
    ids = [f"{prefix}-{i:05d}" for i in range(1, CLIENTS + 1)]
    await eventually(lambda: _all_recorded(stack, ids, orders), timeout=60)
    first = await _counts(stack.sessions, prefix)
    assert first == (CLIENTS, CLIENTS, orders, episodes)
    before = {s.client_id: s.history_length for s in await _states(stack, ids)}

    assert await demo(imported=0) == orders  # every order re-sent and accepted ...
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


@pytest.mark.timeout(300)
async def test_demo_gives_the_uplift_page_a_report(stack: Stack) -> None:
    """The past campaign shows at once; once the orders are in, the reorders match the population.

    (Whether the uplift is positive is the default population's business, checked in the unit
    tests: 34 held-out clients are too few to promise a sign.)"""
    prefix = unique_id("up")
    population = build_population(UPLIFT_CLIENTS, 7, utcnow().date(), prefix)
    report = await run_demo(
        stack.settings, UPLIFT_CLIENTS, 7, stack.base_url, stack.api_key, prefix, Console(quiet=True)
    )
    assert report.episodes_imported == sum(c.episode is not None for c in population)
    await create_user(stack.sessions, OPS_USER, OPS_PASSWORD)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as ui:
        assert (await sign_in(ui)).status_code == 303
        html = (await ui.get("/ui/uplift")).text
        assert "Not enough data yet" not in html
        expected = count_episodes(demo_episodes(population), utcnow() + timedelta(minutes=5))
        for arm in ARMS:
            assert expected[(arm, 30)][1] >= 30
            assert f"/ {expected[(arm, 30)][1]}</td>" in html
        await eventually(lambda: _orders_in(stack, prefix, population), timeout=240, interval=2)
        html = (await ui.get("/ui/uplift")).text
    for arm in ARMS:
        reordered, closed = expected[(arm, 30)]
        assert f"{reordered} / {closed}</td>" in html


async def _orders_in(stack: Stack, prefix: str, population: list[DemoClient]) -> bool:
    return (await _counts(stack.sessions, prefix))[2] == sum(len(c.orders) for c in population)
