"""End to end in Chromium on the real pipeline: orders -> at risk -> draft -> approve -> sent.

Runs the production registry (``worker.registry``) against the dev server, a real
SMTP server and the dashboard: the workflow takes its policy from ``settings.policy``
(version 1 of the live policy), drafts into ``emails`` with status ``pending_approval``,
and records the send in ``emails``/``email_events``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from cli.mailsink import read_sink, start_sink
from core.runtime.settings import Settings
from core.store.apikeys import create_key
from core.store.db import utcnow
from core.store.models import Email
from core.store.opsusers import create_user
from tests.helpers import eventually, free_port, order_body, serve_app, unique_id
from tests.ui.browser import browser, shoot, sign_in
from worker.main import workers_running

pytestmark = [pytest.mark.browser, pytest.mark.temporal, pytest.mark.slow]
__all__ = ["browser"]
PASSWORD = "e2e password 123"


@pytest.fixture
def e2e_settings(settings: Settings, tmp_path: Path) -> Settings:
    smtp = settings.smtp.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    # Send at once: no quiet hours, no cap, nobody held out.
    policy = settings.policy.model_copy(
        update={
            "holdout_fraction": 0.0,
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            "frequency_cap_days": 0,
        }
    )
    return settings.model_copy(update={"smtp": smtp, "policy": policy})


@pytest.fixture
async def pipeline(
    e2e_settings: Settings, dev_client: Client, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[tuple[str, Path]]:
    sink_dir = tmp_path / "mail"
    sink = start_sink(sink_dir, "127.0.0.1", e2e_settings.smtp.port)
    await create_user(sessions, "ops.e2e", PASSWORD)
    try:
        async with (
            workers_running(dev_client, e2e_settings, sessions),
            serve_app(create_app(e2e_settings, temporal=dev_client)) as base_url,
        ):
            yield base_url, sink_dir
    finally:
        sink.stop()


async def _drifting_client(base_url: str, sessions: async_sessionmaker[AsyncSession]) -> str:
    """A client who ordered monthly until ~4 months ago: at risk from their first rescore.

    Sent as a backend service would: profile and orders through the API with an API key."""
    cid = unique_id("c")
    key = await create_key(sessions, "e2e", ("ingest",))
    headers = {"authorization": f"Bearer {key.token}"}
    profile = {
        "email": f"{cid}@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "time_zone": "UTC",
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as http:
        response = await http.put(f"/v1/clients/{cid}", json=profile)
        assert response.status_code in (200, 202), response.text
        for i in range(6):
            placed = (utcnow() - timedelta(days=300 - 35 * i)).isoformat()
            response = await http.post(f"/v1/clients/{cid}/orders", json=order_body(f"{cid}-o{i}", placed))
            assert response.status_code == 202, response.text
    return cid


async def _pending_email(sessions: async_sessionmaker[AsyncSession], cid: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(
            select(Email.id).where(Email.client_id == cid, Email.status == "pending_approval")
        )


async def test_ui_e2e_approve_and_send(
    pipeline: tuple[str, Path],
    e2e_settings: Settings,
    dev_client: Client,
    sessions: async_sessionmaker[AsyncSession],
    browser: Browser,
) -> None:
    base_url, sink_dir = pipeline
    cid = await _drifting_client(base_url, sessions)
    eid = await eventually(lambda: _pending_email(sessions, cid), timeout=60)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base_url, "ops.e2e", PASSWORD)
        await _find_client(page, cid)
        await page.get_by_role("link", name="Approvals", exact=True).click()
        card = page.locator(f"#draft-{eid}")
        await card.get_by_role("button", name="Approve as is").click()
        await expect(card.locator('[data-outcome="ok"]')).to_be_visible(timeout=20_000)
        await _see_sent(page, base_url, cid)
        await shoot(page, "e2e-client-sent")
    finally:
        await context.close()
    messages = await eventually(lambda: read_sink(sink_dir), timeout=30)
    assert any(f"{cid}@example.com" in str(m["X-Rekindle-Rcpt-To"]) for m in messages)


async def _find_client(page: Page, cid: str) -> None:
    await page.get_by_role("link", name="Clients", exact=True).click()
    await page.get_by_label("Tier").select_option("at_risk")
    await page.get_by_label("Search").fill(cid)
    await page.get_by_role("link", name="Grace Hopper").click()
    await expect(page.get_by_role("heading", name=re.compile("Grace Hopper"))).to_be_visible()


async def _see_sent(page: Page, base_url: str, cid: str) -> None:
    async def sent() -> bool:
        await page.goto(f"{base_url}/ui/clients/{cid}")
        return await page.locator(".timeline .pill.st-sent").count() > 0

    await eventually(sent, timeout=60, interval=1.0)
