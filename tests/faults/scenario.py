"""The fault tests' scenario and the invariants every one of them checks.

A scenario is a population of clients whose order dates lie in the past, so the first
rescore already finds them at risk and (auto-approve, no quiet hours, no holdout) their
workflows draft, approve and send at once. Every order is sent at least once and some
twice (as a retrying backend would), and a slice of clients unsubscribes through the API
before their orders arrive. ``check_invariants`` then asks the database, the Temporal
histories and the SMTP inbox whether anything was lost, doubled or sent to an opted-out
address.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from core.contracts.messages import client_workflow_id
from core.domain.tokens import make_unsubscribe_token
from core.runtime.settings import PolicySettings
from core.store.models import Client as ClientRow
from core.store.models import Email, Order
from tests.fakes.smtp import Received
from tests.helpers import eventually, order_body

ORDERS_PER_CLIENT = 3
ORDER_GAP_DAYS = 30
LAST_ORDER_DAYS_AGO = 130  # with the default model: at risk on the first rescore
IN_FLIGHT = ("pending_approval", "approved", "sending")
RETRY_PAUSE = 0.5

# Auto-approve, send at any hour, nobody held out, no cool-down after a cancelled draft; the
# 30-day frequency cap then keeps it to one email per client.
FAULT_POLICY = PolicySettings(
    auto_approve=True, quiet_hours_start=0, quiet_hours_end=0, holdout_fraction=0.0, cool_down_days=0
)


@dataclass
class Population:
    """Who the scenario emails, who opted out, and every order id handed to the API."""

    prefix: str
    size: int
    seed: int = 9
    opted_out: set[str] = field(default_factory=set)
    sent_orders: dict[str, set[str]] = field(default_factory=dict)
    deliveries: int = 0  # order posts answered 202 (duplicates included)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ids = [f"{self.prefix}-{i:04d}" for i in range(self.size)]
        self.opted_out = {cid for cid in self.ids if self.rng.random() < 0.1}

    def address(self, client_id: str) -> str:
        return f"{client_id}@example.test"

    def orders(self, client_id: str) -> list[dict[str, Any]]:
        last = datetime.now(UTC) - timedelta(days=LAST_ORDER_DAYS_AGO)
        bodies = []
        for n in range(ORDERS_PER_CLIENT):
            placed = last - timedelta(days=ORDER_GAP_DAYS * (ORDERS_PER_CLIENT - 1 - n))
            bodies.append(order_body(f"{client_id}-o{n}", placed.isoformat(), f"{40 + n}.00"))
        return bodies

    @property
    def emailed(self) -> list[str]:
        return [cid for cid in self.ids if cid not in self.opted_out]


async def call(http: httpx.AsyncClient, method: str, url: str, deadline: float, **kw: Any) -> httpx.Response:
    """One API call, retried while the service answers 5xx or not at all (nothing was accepted)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            response = await http.request(method, url, **kw)
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        if loop.time() > deadline:
            raise AssertionError(f"{method} {url} still failing at the deadline")
        await asyncio.sleep(RETRY_PAUSE)


async def enroll(http: httpx.AsyncClient, pop: Population, secret: str, *, within: float = 120) -> None:
    """Profiles for everyone; the opted-out slice unsubscribes (one-click) before any order."""
    deadline = asyncio.get_running_loop().time() + within
    limit = asyncio.Semaphore(16)

    async def one(cid: str) -> None:
        async with limit:
            profile = {"email": pop.address(cid), "first_name": "Anna", "time_zone": "UTC"}
            response = await call(http, "PUT", f"/v1/clients/{cid}", deadline, json=profile)
            assert response.status_code == 202, response.text
            if cid in pop.opted_out:
                token = make_unsubscribe_token(cid, secret)
                response = await call(http, "POST", f"/u/{token}", deadline)
                assert response.status_code == 200, response.text

    await asyncio.gather(*(one(cid) for cid in pop.ids))


async def stream_orders(
    http: httpx.AsyncClient,
    pop: Population,
    *,
    within: float = 180,
    concurrency: int = 16,
    pause: float = 0.0,
    hold: asyncio.Event | None = None,
    hold_after: int = 0,
) -> None:
    """Every order once, about a third of them twice; 503s and refused connections are retried.

    With ``hold``, the posts after the first ``hold_after`` wait until it is set: a test can
    then break something knowing that part of the ingest is still to come, however fast or
    slow the machine got through the first part.
    """
    deadline = asyncio.get_running_loop().time() + within
    limit = asyncio.Semaphore(concurrency)
    posts = [(cid, body) for cid in pop.ids for body in pop.orders(cid)]
    posts += [post for post in posts if pop.rng.random() < 0.33]
    pop.rng.shuffle(posts)

    async def one(index: int, cid: str, body: dict[str, Any]) -> None:
        if hold is not None and index >= hold_after:
            await hold.wait()
        async with limit:
            response = await call(http, "POST", f"/v1/clients/{cid}/orders", deadline, json=body)
            assert response.status_code == 202, response.text
            pop.sent_orders.setdefault(cid, set()).add(body["order_id"])
            pop.deliveries += 1
            if pause:
                await asyncio.sleep(pause)

    await asyncio.gather(*(one(i, cid, body) for i, (cid, body) in enumerate(posts)))


async def settled(sessions: async_sessionmaker[AsyncSession], pop: Population) -> bool:
    """Every order recorded, every emailed client's email finished, nothing in flight."""
    async with sessions() as session:
        orders = await session.scalar(
            select(func.count(Order.id)).where(Order.client_id.startswith(pop.prefix))
        )
        rows = (
            await session.execute(
                select(Email.client_id, Email.status).where(Email.client_id.startswith(pop.prefix))
            )
        ).all()
    expected = sum(len(ids) for ids in pop.sent_orders.values())
    finished = {cid for cid, status in rows if status in ("sent", "unknown")}
    busy = [status for _, status in rows if status in IN_FLIGHT]
    return orders == expected and finished >= set(pop.emailed) and not busy


async def wait_settled(sessions: async_sessionmaker[AsyncSession], pop: Population, within: float) -> None:
    try:
        await eventually(lambda: settled(sessions, pop), timeout=within, interval=1.0)
    except AssertionError:
        async with sessions() as session:
            statuses = Counter(
                (
                    await session.scalars(select(Email.status).where(Email.client_id.startswith(pop.prefix)))
                ).all()
            )
        orders = await recorded_orders(sessions, pop)
        expected = sum(len(ids) for ids in pop.sent_orders.values())
        raise AssertionError(
            f"not settled within {within}s: {orders}/{expected} orders recorded, emails {dict(statuses)}"
        ) from None


@dataclass
class Outcome:
    """What the invariants found, for the test to add its own expectations."""

    statuses: Counter[str]
    messages: int
    unknown: int


async def check_invariants(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    inbox: list[Received],
    pop: Population,
    tolerated_task_failure: str | None = None,
) -> Outcome:
    """Nothing lost, nothing doubled, nobody opted out emailed, no workflow failed.

    ``tolerated_task_failure``: workflow task failures whose message holds it are expected
    (and retried), e.g. a client's data key not cached while the database is away.
    """
    await _check_orders(sessions, pop)
    outcome = await _check_emails(sessions, inbox, pop)
    await _check_workflows(temporal, pop, tolerated_task_failure)
    return outcome


async def _check_orders(sessions: async_sessionmaker[AsyncSession], pop: Population) -> None:
    async with sessions() as session:
        recorded = Counter(
            (
                await session.scalars(select(Order.order_id).where(Order.client_id.startswith(pop.prefix)))
            ).all()
        )
        rows = await session.execute(
            select(ClientRow.id, ClientRow.order_count).where(ClientRow.id.startswith(pop.prefix))
        )
        counts = {cid: n for cid, n in rows}
    sent = {oid for ids in pop.sent_orders.values() for oid in ids}
    assert set(recorded) == sent, f"orders lost: {len(sent - set(recorded))}"
    doubled = [oid for oid, n in recorded.items() if n > 1]
    assert not doubled, f"orders recorded twice: {doubled[:5]}"
    wrong = {cid: n for cid, n in counts.items() if n != len(pop.sent_orders.get(cid, ()))}
    assert not wrong, f"clients.order_count wrong for {len(wrong)} clients: {list(wrong.items())[:5]}"


async def _check_emails(
    sessions: async_sessionmaker[AsyncSession], inbox: list[Received], pop: Population
) -> Outcome:
    async with sessions() as session:
        emails = (await session.scalars(select(Email).where(Email.client_id.startswith(pop.prefix)))).all()
    mine = [m for m in inbox if any(r.startswith(pop.prefix) for r in m.rcpt_tos)]
    per_id = Counter(str(m.message()["Message-ID"]) for m in mine)
    doubled = {mid: n for mid, n in per_id.items() if n > 1}
    assert not doubled, f"sent more than once: {len(doubled)} emails, e.g. {list(doubled.items())[:3]}"
    opted_out = {pop.address(cid) for cid in pop.opted_out}
    to_opted_out = [r for m in mine for r in m.rcpt_tos if r in opted_out]
    assert not to_opted_out, f"{len(to_opted_out)} emails to opted-out addresses"
    by_status = {e.message_id: e.status for e in emails if e.message_id}
    for mid in per_id:
        assert by_status.get(mid) in ("sent", "unknown"), f"delivered but recorded {by_status.get(mid)}"
    for e in emails:
        if e.status == "sent":
            assert per_id[e.message_id or ""] == 1, (
                f"recorded sent but delivered {per_id[e.message_id or '']}"
            )
    per_client = Counter(e.client_id for e in emails if e.status in ("sent", "unknown"))
    assert all(per_client[cid] == 1 for cid in pop.emailed), "a client was emailed twice or never"
    assert not any(per_client[cid] for cid in pop.opted_out)
    statuses = Counter(e.status for e in emails)
    return Outcome(statuses=statuses, messages=len(mine), unknown=statuses["unknown"])


async def _check_workflows(temporal: Client, pop: Population, tolerated: str | None = None) -> None:
    limit = asyncio.Semaphore(16)

    async def one(cid: str) -> str | None:
        async with limit:
            handle = temporal.get_workflow_handle(client_workflow_id(cid))
            described = await handle.describe()
            if described.status != WorkflowExecutionStatus.RUNNING:
                return f"{cid}: {described.status}"
            history = await handle.fetch_history()
            failed = [
                e
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                and not (tolerated and tolerated in e.workflow_task_failed_event_attributes.failure.message)
            ]
            return f"{cid}: {len(failed)} workflow task failures" if failed else None

    problems = [p for p in await asyncio.gather(*(one(cid) for cid in pop.ids)) if p]
    assert not problems, f"{len(problems)} workflows in trouble: {problems[:5]}"


async def retried_activities(temporal: Client, pop: Population) -> int:
    """Activities that needed more than one attempt, over the clients' current runs."""
    limit = asyncio.Semaphore(16)

    async def one(cid: str) -> int:
        async with limit:
            history = await temporal.get_workflow_handle(client_workflow_id(cid)).fetch_history()
        started = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        return sum(
            1
            for e in history.events
            if e.event_type == started and e.activity_task_started_event_attributes.attempt > 1
        )

    return sum(await asyncio.gather(*(one(cid) for cid in pop.ids)))


async def recorded_orders(sessions: async_sessionmaker[AsyncSession], pop: Population) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count(Order.id)).where(Order.client_id.startswith(pop.prefix))
        )
    return int(count or 0)
