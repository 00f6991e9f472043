"""``rekindle import``: every order lands once; an interrupted import resumes and duplicates nothing.

The regular tests use 1,200 orders for 300 clients; ``bench/backfill.py`` runs the full
20,000 orders for 5,000 clients through the same command.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from asyncio.subprocess import PIPE
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from cli.devdata import DEV_KEY_FILE
from cli.importer import Checkpoint, run_import, run_profile_import
from core.contracts.messages import (
    ACTIVITY_RECORD_ORDER,
    ACTIVITY_RECORD_ORDERS,
    QUERY_STATE,
    SIGNAL_ORDERS_IMPORTED,
    client_workflow_id,
)
from core.contracts.state import ClientStateView
from core.domain.policy import in_holdout
from core.runtime.workflow_config import WorkflowStart
from core.store.models import Client, Order
from tests.fakes.slow_link import slow_link
from tests.helpers import TEST_CODEC_KEYS, eventually, unique_id
from tests.integration.conftest import Stack
from workflows.pipeline import NO_ADDRESS

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
REKINDLE = str(Path(sys.executable).parent / "rekindle")


def write_orders(path: Path, orders: int, clients: int, prefix: str, seed: int = 7) -> None:
    """An export: half the rows carry an order id, half rely on the derived one."""
    rng = random.Random(seed)
    lines = ["client_id,ordered_at,amount,order_id,currency"]
    for i in range(orders):
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        order_id = f"{prefix}-o{i}" if i % 2 else ""
        lines.append(
            f"{prefix}-{i % clients},{day.isoformat()},{rng.randrange(100, 20000) / 100:.2f},{order_id},EUR"
        )
    path.write_text("\n".join(lines) + "\n")


async def count_orders(sessions: async_sessionmaker[AsyncSession], prefix: str) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Order).where(Order.client_id.like(f"{prefix}-%"))
        return int((await session.execute(query)).scalar_one())


async def test_import_lands_every_order_once_and_reports_bad_rows(stack: Stack, tmp_path: Path) -> None:
    prefix = unique_id("imp")
    path = tmp_path / "orders.csv"
    write_orders(path, 400, 100, prefix)
    with path.open("a") as handle:
        handle.write(f"{prefix}-1,yesterday,10.00,,EUR\n")
        handle.write(f"{prefix}-1,2025-01-01,ten,,EUR\n")
        handle.write("bad id!,2025-01-01,10.00,,EUR\n")
        handle.write(f"{prefix}-1,2025-01-01,10.001,,EUR\n")
    console = Console(stderr=True, record=True, width=200)
    report = await run_import(path, stack.temporal, stack.settings, console=console)
    assert report.sent == 400
    assert [(b.line, b.reason.split(":")[0]) for b in report.bad] == [
        (402, "ordered_at"),
        (403, "amount"),
        (404, "client_id"),
        (405, "amount"),
    ]
    assert "line 403: amount: 'ten' is not a non-negative number" in console.export_text()
    assert report.clients == 100  # one message per client, not one per order
    await eventually(lambda: _has(stack.sessions, prefix, 400), timeout=90)
    # Each client's history arrived in one signal and was recorded by one activity.
    signals, activities = await _history_counts(stack, f"{prefix}-1")
    assert signals == {SIGNAL_ORDERS_IMPORTED: 1}
    assert activities[ACTIVITY_RECORD_ORDERS] == 1, activities
    assert activities[ACTIVITY_RECORD_ORDER] == 0, activities

    again = await run_import(path, stack.temporal, stack.settings, console=console)
    assert again.already_done
    resent = await run_import(path, stack.temporal, stack.settings, restart=True, console=console)
    assert resent.sent == 400
    await asyncio.sleep(2)
    assert await count_orders(stack.sessions, prefix) == 400


async def _history_counts(stack: Stack, client_id: str) -> tuple[Counter[str], Counter[str]]:
    """(signals by name, activities by type) in the client's workflow history."""
    signals: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    async for event in stack.temporal.get_workflow_handle(
        client_workflow_id(client_id)
    ).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signals[event.workflow_execution_signaled_event_attributes.signal_name] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return signals, activities


async def _has(sessions: async_sessionmaker[AsyncSession], prefix: str, count: int) -> bool:
    return await count_orders(sessions, prefix) == count


async def test_import_profiles_first_so_every_draft_knows_the_address(stack: Stack, tmp_path: Path) -> None:
    """``rekindle import --profiles``: profiles stored and told to the workflows, once (a re-run
    changes nothing, a resume skips what was done); then the order history drafts each profiled
    client with its address, while a client imported without a profile waits for one."""
    prefix = unique_id("prof")
    start = WorkflowStart.from_settings(stack.settings)
    # Clients in the treatment arm (the holdout is never drafted), so each must draft or wait.
    ids = (f"{prefix}-{i}" for i in range(1000))
    treated = [c for c in ids if not in_holdout(c, start.config.holdout_fraction)][:7]
    profiled, bare = treated[:6], treated[6]
    profiles = tmp_path / "profiles.csv"
    rows = "".join(f"{c},{c}@example.com,Ann,Europe/Berlin,vip\n" for c in profiled)
    profiles.write_text(
        f"client_id,email,first_name,time_zone,crm_segment\n{rows}{prefix}-x,no-address,X,,\n"
    )
    console = Console(stderr=True, record=True, width=200)

    imports = (stack.temporal, stack.settings, stack.sessions)
    report = await run_profile_import(profiles, *imports, console=console)
    assert (report.stored, report.changed, [b.line for b in report.bad]) == (6, 6, [8])
    assert report.ignored_columns == ("crm_segment",)
    text = console.export_text()
    assert "line 8: email: not an email address" in text
    assert "no-address" not in text  # a refused value is never echoed
    async with stack.sessions() as session:
        query = select(Client.id, Client.email).where(Client.id.like(f"{prefix}-%"))
        stored = {row.id: row.email for row in await session.execute(query)}
    assert stored == {c: f"{c}@example.com" for c in profiled}

    assert (await run_profile_import(profiles, *imports)).already_done
    again = await run_profile_import(profiles, *imports, restart=True)
    assert (again.stored, again.changed) == (6, 0)
    Checkpoint(profiles).save(4)  # as if killed after the first four
    resumed = await run_profile_import(profiles, *imports)
    assert (resumed.skipped, resumed.stored, resumed.changed) == (4, 2, 0)

    orders = tmp_path / "orders.csv"
    history = ("2024-03-01", "2024-09-15", "2025-02-01")  # a lapsed client: a win-back is drafted
    orders.write_text(
        "client_id,ordered_at,amount\n" + "".join(f"{c},{day},40.00\n" for c in treated for day in history)
    )
    await run_import(orders, stack.temporal, stack.settings, console=console)

    async def settled() -> dict[str, ClientStateView] | None:
        states = {}
        for client_id in treated:
            handle = stack.temporal.get_workflow_handle(client_workflow_id(client_id))
            state = await handle.query(QUERY_STATE, result_type=ClientStateView)
            if state.order_count < len(history) or not (state.pending_email or state.blocked_reason):
                return None
            states[client_id] = state
        return states

    states = await eventually(settled, timeout=90, interval=0.5)
    assert states[bare].blocked_reason == NO_ADDRESS
    assert states[bare].pending_email is None
    for client_id in profiled:
        state = states[client_id]
        assert state.profile is not None
        assert state.profile.email == f"{client_id}@example.com"
        assert state.pending_email is not None, (client_id, state)
        assert state.blocked_reason is None, (client_id, state)


# Sized for the suite; bench/backfill.py runs the 20,000 orders for 5,000 clients.
ORDERS, CLIENTS = 600, 150
# Enough for several clients a second (a client's history of four orders is a few KB on the
# wire), far too few for 150 to pass in the instant between two looks at the checkpoint.
SLOW_LINK_BYTES_PER_SECOND = 20_000


@pytest.mark.timeout(300)
async def test_import_killed_and_rerun_duplicates_nothing(
    keyed_stack: Stack, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # `rekindle import` encrypts under each client's data key, so the worker must read them too.
    stack = keyed_stack
    prefix = unique_id("kill")
    path = tmp_path / "orders.csv"
    write_orders(path, ORDERS, CLIENTS, prefix)
    # Beside a dev stack (`make run`) the import needs no settings of its own: it finds the
    # stack's codec key in ./data/codec-keys and its Temporal port (here the test server's).
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DEV_KEY_FILE).write_text(TEST_CODEC_KEYS)
    host, port = dev_env.client.service_client.config.target_host.rsplit(":", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            # Workflows the import starts carry the drafting and sending queues in their input.
            "REKINDLE_TEMPORAL__TASK_QUEUE": stack.settings.temporal.task_queue,
            "REKINDLE_TEMPORAL__LLM_TASK_QUEUE": stack.settings.temporal.llm_task_queue,
            "REKINDLE_TEMPORAL__SEND_TASK_QUEUE": stack.settings.temporal.send_task_queue,
            "REKINDLE_DATABASE__URL": stack.settings.database.url,
        }
    )
    checkpoint = tmp_path / "orders.csv.import-state"

    def progressed() -> bool:
        try:
            return bool(json.loads(checkpoint.read_text())["messages"] > 30)
        except (OSError, ValueError, KeyError):
            return False

    # The first run talks to Temporal over a slow link (a few clients a second), so the kill lands
    # mid-import however fast or busy the machine is; the re-run talks to it directly.
    async with slow_link(host, int(port), upload_bytes_per_second=SLOW_LINK_BYTES_PER_SECOND) as slow_port:
        first = await asyncio.create_subprocess_exec(
            REKINDLE,
            "import",
            str(path),
            "--concurrency",
            "8",
            env={**env, "REKINDLE_DEVSTACK__TEMPORAL_PORT": str(slow_port)},
            cwd=tmp_path,
            stdout=PIPE,
            stderr=PIPE,
        )
        await eventually(progressed, timeout=120)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    stopped_at = json.loads(checkpoint.read_text())["messages"]
    assert 30 < stopped_at < CLIENTS

    second = await asyncio.create_subprocess_exec(
        REKINDLE,
        "import",
        str(path),
        env={**env, "REKINDLE_DEVSTACK__TEMPORAL_PORT": port},
        cwd=tmp_path,
        stdout=PIPE,
        stderr=PIPE,
    )
    _out, err = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert f"{stopped_at} clients done before" in err.decode()
    try:
        await eventually(lambda: _has(stack.sessions, prefix, ORDERS), timeout=120)
    except AssertionError:
        raise AssertionError(f"recorded {await count_orders(stack.sessions, prefix)} of {ORDERS}") from None
    await asyncio.sleep(2)
    assert await count_orders(stack.sessions, prefix) == ORDERS
