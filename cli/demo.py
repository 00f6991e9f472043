"""``rekindle demo``: seed a running stack with a made-up client population.

It talks to the API like any backend service would: ``PUT /v1/clients/{id}`` for
profiles, ``POST /v1/emails:import`` for the previous tool's win-back campaign,
``POST /v1/orders:batch`` for orders, with an admin key (the import needs one).
Clients go in chunks, each in four steps that wait for the previous one's answers:
profiles first (so a draft already knows the name and time zone, and the import
finds the client), then the past campaign emails (so the workflow's frequency cap
knows them before any order can make the client at risk), then every client's
*latest* order, then the older ones. Latest-first matters: a newer order cancels a
pending draft ("the client came back"), so backfilling oldest-first could draft on a
stale first order, cancel it on the next and leave the client cooling down.
Everything is keyed by deterministic ids, so a re-run changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress

from cli import apiclient
from cli.demo_population import DemoClient, DemoEpisode, DemoOrder, build_population
from cli.progress import progress_bar
from core.runtime.settings import Settings

BATCH_MAX = 1000  # the API's batch limit
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class DemoFailed(Exception):
    """The demo could not seed the stack (not running, key refused); the message says why."""


@dataclass
class SeedReport:
    clients: int = 0
    profiles_changed: int = 0
    orders: int = 0
    episodes_imported: int = 0  # past win-back emails stored by this run
    episodes_present: int = 0  # ... and those an earlier run had stored
    retried: int = 0  # requests repeated after a 5xx or a connection error


def order_item(client_id: str, order: DemoOrder) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "order_id": order.order_id,
        "placed_at": order.placed_at.isoformat(),
        "amount": str(order.amount),
        "currency": "USD",
    }


def episode_item(client_id: str, episode: DemoEpisode) -> dict[str, Any]:
    item = {
        "email_id": episode.email_id,
        "client_id": client_id,
        "arm": episode.arm,
        "drafted_at": episode.drafted_at.isoformat(),
        "subject": episode.subject,
    }
    if episode.sent_at is not None:
        item["sent_at"] = episode.sent_at.isoformat()
    return item


class Seeder:
    """Sends one population through the API with bounded concurrency and retries."""

    def __init__(self, http: httpx.AsyncClient, concurrency: int = 8) -> None:
        self.http = http
        self.gate = asyncio.Semaphore(concurrency)
        self.report = SeedReport()

    async def _call(self, method: str, url: str, body: dict[str, Any]) -> httpx.Response:
        """One request; 5xx answers and connection errors are retried (the stack may be busy)."""
        for delay in (*RETRY_DELAYS, None):
            try:
                response = await self.http.request(method, url, json=body)
            except httpx.TransportError:
                if delay is None:
                    raise DemoFailed(f"cannot reach the API at {self.http.base_url}") from None
            else:
                if response.status_code in (401, 403):
                    raise DemoFailed("the API refused the key: pass an admin key with --api-key")
                # 5xx: nothing was stored (the API answers only after Temporal took the signal,
                # inside the transaction), so the idempotent request is safe to repeat.
                if response.status_code < 500 or delay is None:
                    if response.is_error:
                        raise DemoFailed(
                            f"{method} {url} answered {response.status_code}: {response.text[:300]}"
                        )
                    return response
            self.report.retried += 1
            await asyncio.sleep(delay or 0)
        raise AssertionError("unreachable")

    async def put_profile(self, client: DemoClient) -> None:
        async with self.gate:
            response = await self._call("PUT", f"/v1/clients/{client.client_id}", client.profile)
        self.report.profiles_changed += bool(response.json().get("changed"))

    async def post_batch(self, url: str, key: str, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send a batch; items Temporal could not take yet are sent again after a pause.

        Returns every item's final result; an item the API refuses fails the demo.
        """
        pending, done = list(items), []
        for delay in (*RETRY_DELAYS, None):
            async with self.gate:
                response = await self._call("POST", url, {key: pending})
            results = response.json()["results"]
            refused = [r for r in results if r["status"] in ("invalid", "unknown_client")]
            if refused:
                raise DemoFailed(f"the API refused a demo item of {url}: {refused[0]['errors']}")
            done += [r for r in results if r["status"] != "unavailable"]
            retry = [pending[r["index"]] for r in results if r["status"] == "unavailable"]
            if not retry:
                return done
            if delay is None:
                raise DemoFailed("Temporal stayed unavailable; run the same command again to resume")
            pending = retry
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def post_orders(self, items: Sequence[dict[str, Any]]) -> None:
        self.report.orders += len(await self.post_batch("/v1/orders:batch", "orders", items))

    async def post_episodes(self, items: Sequence[dict[str, Any]]) -> None:
        results = await self.post_batch("/v1/emails:import", "emails", items)
        self.report.episodes_imported += sum(r["status"] == "imported" for r in results)
        # A conflict is this demo's own email stored by a run on another day (its dates are
        # laid out from today): it is there already, as on a same-day re-run.
        self.report.episodes_present += sum(r["status"] in ("unchanged", "conflict") for r in results)

    async def send_orders(self, items: list[dict[str, Any]]) -> None:
        slices = [items[i : i + BATCH_MAX] for i in range(0, len(items), BATCH_MAX)]
        await _all(self.post_orders(s) for s in slices)

    async def seed_chunk(self, chunk: Sequence[DemoClient]) -> None:
        await _all(self.put_profile(c) for c in chunk)
        episodes = [episode_item(c.client_id, c.episode) for c in chunk if c.episode is not None]
        if episodes:  # a chunk is far below the import's limit of 1,000
            await self.post_episodes(episodes)
        await self.send_orders([order_item(c.client_id, c.latest()) for c in chunk])
        await self.send_orders([order_item(c.client_id, o) for c in chunk for o in c.orders[:-1]])
        self.report.clients += len(chunk)


async def _all(calls: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``calls`` together; on the first failure cancel (and wait for) the rest, raise it."""
    try:
        async with asyncio.TaskGroup() as group:
            for call in calls:
                group.create_task(call)
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None


async def seed(
    http: httpx.AsyncClient,
    population: Sequence[DemoClient],
    *,
    chunk_size: int = 100,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> SeedReport:
    """Seed ``population`` through the API behind ``http`` (base URL and key set).

    Clients with a past episode go first: the uplift report fills within the first
    chunks instead of growing at the pace of the whole population.
    """
    seeder = Seeder(http, concurrency)
    bar = progress.add_task("clients", total=len(population)) if progress else None
    ordered = sorted(population, key=lambda c: c.episode is None)  # stable: ids stay in order
    for start in range(0, len(ordered), chunk_size):
        chunk = ordered[start : start + chunk_size]
        await seeder.seed_chunk(chunk)
        if progress is not None and bar is not None:
            progress.advance(bar, len(chunk))
    return seeder.report


def resolve_key(settings: Settings, given: str | None) -> str:
    """The admin key (cli/apiclient.py), or DemoFailed saying how to get one."""
    try:
        return apiclient.resolve_key(settings, given)
    except apiclient.NoApiKey as exc:
        raise DemoFailed(str(exc)) from None


async def run_demo(
    settings: Settings,
    clients: int,
    seed_value: int,
    base_url: str | None,
    api_key: str | None,
    prefix: str = "demo",
    console: Console | None = None,
) -> SeedReport:
    """Build the population and seed it; raises DemoFailed with a one-line reason."""
    console = console or Console(stderr=True)
    url = (base_url or settings.api.public_base_url).rstrip("/")
    headers = {"authorization": f"Bearer {resolve_key(settings, api_key)}"}
    population = build_population(clients, seed_value, datetime.now(UTC).date(), prefix)
    orders = sum(len(c.orders) for c in population)
    episodes = sum(c.episode is not None for c in population)
    console.print(
        f"Seeding {clients} clients, {orders} orders and {episodes} past win-back emails into {url} …"
    )
    timeout = httpx.Timeout(60.0, connect=5.0)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as http:
        try:
            await http.get("/healthz")
        except httpx.TransportError:
            raise DemoFailed(f"nothing answers at {url}: start the stack with `make run` first") from None
        with progress_bar(console) as progress:
            return await seed(http, population, progress=progress)


async def demo_command(
    settings: Settings, clients: int, seed_value: int, base_url: str | None, api_key: str | None
) -> None:
    """``rekindle demo``: seed, then say where to look."""
    from core.runtime.process import finish

    console = Console(stderr=True)
    try:
        report = await run_demo(settings, clients, seed_value, base_url, api_key, console=console)
    except DemoFailed as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        finish(1)
    url = (base_url or settings.api.public_base_url).rstrip("/")
    console.print(
        f"Seeded {report.clients} clients ({report.profiles_changed} profiles new or changed), "
        f"{report.orders} orders accepted ({report.retried} requests repeated after a server error), "
        f"{report.episodes_imported} past win-back episodes imported "
        f"({report.episodes_present} already there).\n"
        f"The workflows score them now; drafts for at-risk clients appear in {url}/ui/approvals "
        f"as they are made (the Temporal Web UI: filter RiskTier = 'at_risk'). The uplift report "
        f"of the imported campaign is at {url}/ui/uplift once the orders are recorded."
    )
