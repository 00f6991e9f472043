"""Dashboard page and ``GET /v1/clients`` times at up to a million clients, SQLite or PostgreSQL.

Seeds a fresh, migrated database with bulk inserts (clients, orders, score history,
emails and their events; the rollup triggers fire as for any writer, and their deltas
are folded in before timing, as the dashboard's first read would), serves the app on
loopback with a payload-encryption key (as production and ``rekindle up`` run), signs in
(and makes an ops API key), and requests each page and each API filter several times.
The server time of a dashboard page is what the app reports in its ``Server-Timing``
header (routing, queries and template rendering); the API has no such header, so its
figure is the round trip (a millisecond or two more). Both are printed. The database is a
temporary SQLite file, or with ``--database-url`` a throwaway database created on that
PostgreSQL server and dropped at the end.

    .venv/bin/python bench/dashboard.py [--clients 50000] [--runs 15]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--short]

``--short``: 1,000 clients, 3 runs (seconds). Target: every median < 100 ms. Last line:
{"pages": {"<page>": <median ms>, ...}, "max_median_ms": ..., "clients": ..., "seed_seconds": ...,
 "target_ms": 100, "database": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app
from api.pagination import encode_cursor
from bench.common import free_port, parse_args
from core.runtime.codec import new_key
from core.runtime.logging import configure_logging
from core.runtime.settings import DatabaseSettings, SecuritySettings, Settings
from core.store import migrate, rollups
from core.store.apikeys import create_key
from core.store.db import async_url, session_factory, sync_url
from core.store.db import create_engine as create_async_engine
from core.store.models import Client, Email, EmailEvent, EngagementScore, Order
from core.store.opsusers import create_user
from tests.helpers import serve_app

NOW = datetime.now(UTC).replace(microsecond=0)
TIERS = [
    ("active", 0.45, (60, 100)),
    ("cooling", 0.25, (40, 60)),
    ("at_risk", 0.20, (15, 40)),
    ("lapsed", 0.10, (0, 15)),
]
SEGMENTS = ["champions", "loyal", "potential", "new", "at_risk", "cant_lose", "hibernating"]
NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Ken",
    "Linus",
    "Margaret",
    "Donald",
    "Frances",
    "Smith",
    "Jones",
]
PASSWORD = "bench-password-123"
BATCH = 5000


def _tier(rng: random.Random) -> tuple[str, float]:
    roll, acc = rng.random(), 0.0
    for name, weight, (low, high) in TIERS:
        acc += weight
        if roll <= acc:
            return name, rng.uniform(low, high)
    return "lapsed", rng.uniform(0, 15)


def _client(i: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    cid = f"c-{i:06d}"
    tier, score = _tier(rng)
    n_orders = rng.randint(1, 7)
    idle = {"active": 20, "cooling": 50, "at_risk": 100, "lapsed": 250}[tier] + rng.randint(0, 30)
    last = NOW - timedelta(days=idle)
    amounts = [rng.randint(1500, 25000) for _ in range(n_orders)]
    orders: list[dict[str, Any]] = [
        {
            "order_id": f"{cid}-o{k}",
            "client_id": cid,
            "placed_at": last - timedelta(days=35 * k),
            "amount_minor": amounts[k],
            "currency": "USD",
            "items": [],
            "recorded_at": last,
        }
        for k in range(n_orders)
    ]
    path = ["active", "active", "cooling", tier]
    scores = [
        {
            "client_id": cid,
            "scored_at": NOW - timedelta(weeks=24 - 7 * k, days=rng.randint(0, 6)),
            "score": max(0.0, min(100.0, score + (3 - k) * 10)),
            "tier": path[k],
            "segment": None,
            "reasons": [f"no order for {idle} days"],
            "model_version": 1,
        }
        for k in range(4)
    ]
    client = {
        "id": cid,
        "email": f"client{i}@example.com",
        "first_name": rng.choice(NAMES),
        "last_name": rng.choice(NAMES),
        "time_zone": "UTC",
        "order_count": n_orders,
        "total_spend_minor": sum(amounts),
        "currency": "USD",
        "first_order_at": orders[-1]["placed_at"],
        "last_order_at": last,
        "score": score,
        "tier": tier,
        "segment": rng.choice(SEGMENTS),
        "holdout": rng.random() < 0.1,
        "created_at": orders[-1]["placed_at"],
        "updated_at": NOW,
    }
    return client, orders, scores


def _emails(client: dict[str, Any], rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if client["tier"] not in ("at_risk", "lapsed") or rng.random() > 0.6:
        return [], []
    status = (
        "holdout"
        if client["holdout"]
        else rng.choices(["sent", "pending_approval", "rejected", "expired"], [0.85, 0.04, 0.06, 0.05])[0]
    )
    created = NOW - timedelta(days=rng.randint(1, 200))
    eid = f"e-{client['id']}"
    email = {
        "id": eid,
        "client_id": client["id"],
        "status": status,
        "subject": "We miss you",
        "preheader": "New in",
        "body_text": "Hello,\n\nIt has been a while.\n",
        "body_html": "<p>Hello</p>",
        "generator": "template",
        "prompt_version": "t1",
        "guardrails": [{"name": "length", "passed": True}],
        "holdout": status == "holdout",
        "sent_at": created + timedelta(hours=20) if status == "sent" else None,
        "created_at": created,
        "updated_at": created,
    }
    events = [
        {"email_id": eid, "client_id": client["id"], "kind": "drafted", "at": created, "actor": "template"}
    ]
    if status == "sent":
        events.append(
            {
                "email_id": eid,
                "client_id": client["id"],
                "kind": "sent",
                "at": email["sent_at"],
                "actor": None,
            }
        )
    return [email], events


def seed(url: str, n_clients: int) -> dict[str, int]:
    """Bulk-insert the data set; returns row counts."""
    rng = random.Random(7)
    engine = create_engine(url)
    counts = dict.fromkeys(["clients", "orders", "engagement_scores", "emails", "email_events"], 0)
    tables = {
        "clients": Client,
        "orders": Order,
        "engagement_scores": EngagementScore,
        "emails": Email,
        "email_events": EmailEvent,
    }
    with engine.begin() as conn:
        for start in range(0, n_clients, BATCH):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
            for i in range(start, min(start + BATCH, n_clients)):
                client, orders, scores = _client(i, rng)
                emails, events = _emails(client, rng)
                if emails and rng.random() < 0.35:  # a reorder after the draft, for the uplift report
                    orders.append(
                        {
                            **orders[0],
                            "order_id": f"{client['id']}-re",
                            "placed_at": emails[0]["created_at"] + timedelta(days=rng.randint(5, 80)),
                        }
                    )
                rows["clients"].append(client)
                rows["orders"] += orders
                rows["engagement_scores"] += scores
                rows["emails"] += emails
                rows["email_events"] += events
            for name, model in tables.items():
                if rows[name]:
                    conn.execute(insert(model), rows[name])
                    counts[name] += len(rows[name])
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


async def _sign_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await http.post(
        "/ui/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text


def bench_settings(url: str) -> Settings:
    """The app's settings: this database, a payload-encryption key made for the run (as
    ``rekindle up`` makes one), a Temporal address where nothing listens, and no access log
    line per request (it would bury the figures)."""
    settings = Settings(_env_file=None)
    return settings.model_copy(
        update={
            "database": DatabaseSettings(url=async_url(url)),
            "temporal": settings.temporal.model_copy(update={"address": f"127.0.0.1:{free_port()}"}),
            "security": SecuritySettings(codec_keys=SecretStr(f"bench-1:{new_key()}")),
            "logging": settings.logging.model_copy(update={"level": "WARNING"}),
        }
    )


PAGES = {
    "overview": "/ui",
    "clients": "/ui/clients",
    "clients_at_risk_by_last_order": "/ui/clients?tier=at_risk&sort=-last_order",
    "clients_search": "/ui/clients?q=grace+smith&sort=-score",
    "clients_search_one": "/ui/clients?q=client123456%40example.com",  # a rare search: one match
    "clients_page_500": "/ui/clients?page=500",
    "client": "/ui/clients/c-000123",
    "approvals": "/ui/approvals",
    "emails": "/ui/emails",
    "emails_sent_at_risk": "/ui/emails?status=sent&tier=at_risk",
    "uplift": "/ui/uplift",
}
API: dict[str, dict[str, str]] = {  # every filter of GET /v1/clients, and a page deep in the list
    "api_clients": {},
    "api_clients_tier": {"tier": "lapsed"},
    "api_clients_segment": {"segment": "champions"},
    "api_clients_score_range": {"score_min": "40", "score_max": "45"},
    "api_clients_holdout": {"holdout": "true"},
    "api_clients_last_order_before": {"last_order_before": (NOW - timedelta(days=260)).isoformat()},
    "api_clients_last_order_after": {"last_order_after": (NOW - timedelta(days=21)).isoformat()},
    "api_clients_combined": {"tier": "at_risk", "score_min": "20", "holdout": "false"},
    "api_clients_deep_page": {"cursor": "(90 % of the way through)"},
}
TARGET_MS = 100


async def fold_rollups(url: str) -> float:
    """Fold the seed's rollup deltas in (the dashboard's first read would); seconds taken.

    On PostgreSQL, then VACUUM ANALYZE: the fold deleted millions of delta rows, and until
    autovacuum passes (as it would long before anyone looked, in production) every read of
    the rollups would wade through their dead tuples.
    """
    engine = create_async_engine(DatabaseSettings(url=async_url(url)))
    started = time.perf_counter()
    try:
        while True:
            async with session_factory(engine)() as session:
                if not await rollups.compact(session):
                    break
                await session.commit()
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def measure(url: str, runs: int, clients: int) -> dict[str, tuple[float, float]]:
    """Per page: (median server ms, median round-trip ms); API calls: the round trip twice."""
    settings = bench_settings(url)
    configure_logging(settings.logging)
    engine = create_async_engine(settings.database)
    await create_user(session_factory(engine), "bench", PASSWORD)
    key = await create_key(session_factory(engine), "bench", ("ops",))
    await engine.dispose()
    results: dict[str, tuple[float, float]] = {}
    async with serve_app(create_app(settings)) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        await _sign_in(http)
        bearer = {"Authorization": f"Bearer {key.token}"}  # API calls only; pages use the session
        headers = {name: bearer if name in API else {} for name in PAGES | API}
        deep = {"cursor": encode_cursor(f"c-{int(0.9 * clients):06d}")}
        # A page's query string is in its path (httpx would replace it with an empty params dict).
        Request = tuple[str, dict[str, str] | None]
        paths: dict[str, Request] = {name: (path, None) for name, path in PAGES.items()}
        paths |= {name: ("/v1/clients", deep if "cursor" in q else q) for name, q in API.items()}
        for name, (path, params) in paths.items():  # warm the page cache and the template cache once
            response = await http.get(path, params=params, headers=headers[name])
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:200]}"
        server: dict[str, list[float]] = {name: [] for name in paths}
        wall: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(runs):  # pages interleaved, so all see the same machine load
            for name, (path, params) in paths.items():
                started = time.perf_counter()
                response = await http.get(path, params=params, headers=headers[name])
                wall[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, f"{name}: {response.status_code}"
                timing = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
                server[name].append(float(timing.group(1)) if timing else wall[name][-1])
        for name in paths:
            results[name] = (statistics.median(server[name]), statistics.median(wall[name]))
    return results


def database_backend(parser: argparse.ArgumentParser, server_url: str | None) -> str:
    """``--database-url``'s backend: PostgreSQL when given (anything else is refused), else SQLite."""
    if server_url and make_url(server_url).get_backend_name() != "postgresql":
        parser.error("--database-url must name a PostgreSQL server (SQLite is the default)")
    return "postgresql" if server_url else "sqlite"


@contextlib.contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A migrated, empty database (synchronous URL): a temporary SQLite file, or a throwaway
    database on the PostgreSQL server of ``server_url``, dropped afterwards."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            migrate.upgrade(url)
            yield url
        return
    server = make_url(sync_url(async_url(server_url)))
    name = f"rekindle_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to run on (a throwaway database is created there); default SQLite",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the page runs may take")
    args = parse_args(parser, clients=1000, runs=3, timeout=120)
    backend = database_backend(parser, args.database_url)
    with database(args.database_url) as url:
        started = time.perf_counter()
        counts = seed(url, args.clients)
        seeded = time.perf_counter() - started
        print(f"{backend}: seeded in {seeded:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        folded = asyncio.run(fold_rollups(url))
        print(f"rollup deltas folded in {folded:.1f} s")
        results = asyncio.run(asyncio.wait_for(measure(url, args.runs, args.clients), args.timeout))
    print(f"\n{'page':34} {'server ms (median)':>20} {'round trip ms':>15}   ({args.runs} runs, interleaved)")
    print("(api_*: no Server-Timing header, both columns are the round trip)")
    for name, (server, wall) in results.items():
        print(f"{name:34} {server:20.1f} {wall:15.1f}")
    pages = {name: round(server, 1) for name, (server, _) in results.items()}
    worst = max(pages.values())
    slowest = max(pages, key=lambda name: pages[name])
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(f"\nslowest median {worst:.1f} ms ({slowest}); target < {TARGET_MS} ms: {verdict}")
    figures = {
        "pages": pages,
        "max_median_ms": worst,
        "clients": args.clients,
        "seed_seconds": round(seeded + folded, 1),
        "target_ms": TARGET_MS,
    }
    print(json.dumps(figures | {"database": backend}))


if __name__ == "__main__":
    main()
