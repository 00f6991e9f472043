"""The dashboard in headless Chromium: sign in, find an at-risk client, approve a draft.

The approval runs through a contract-only stand-in workflow on the real dev server
(tests/ui/approval_workflow.py); test_ui_e2e.py runs the same path on the real pipeline.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from temporalio.client import Client
from temporalio.worker import Worker

from core.contracts.messages import client_workflow_id
from tests.helpers import new_worker, unique_id
from tests.ui import factories as f
from tests.ui.approval_workflow import ApprovalOnlyWorkflow, PendingDraft
from tests.ui.browser import WIDTHS, browser, page, shoot, sign_in
from tests.ui.conftest import OPS_PASSWORD, OPS_USER, Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.temporal, pytest.mark.slow]
__all__ = ["browser", "page"]  # the fixtures, imported so pytest finds them here
XSS = "<script>alert(1)</script>"


async def _seed(ui: Dashboard) -> tuple[str, str]:
    cid, eid = unique_id("c"), unique_id("e")
    await f.add(ui.sessions, *f.at_risk_story(cid, eid, first_name="Grace", last_name="Hopper"))
    await f.add(
        ui.sessions, *f.at_risk_story(unique_id("c"), unique_id("e"), first_name=XSS, last_name="Xss")
    )
    others = [
        f.client_row(unique_id("c"), first_name=name, score=score, tier=tier, segment=segment)
        for name, score, tier, segment in [
            ("Alan", 88.0, "active", "champions"),
            ("Barbara", 64.0, "cooling", "loyal"),
            ("Edsger", 9.0, "lapsed", "hibernating"),
        ]
    ]
    await f.add(ui.sessions, *others, *f.uplift_rows(unique_id("u")))
    return cid, eid


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_browser_ops_journey(temporal_dashboard: Dashboard, dev_client: Client, page: Page) -> None:
    ui = temporal_dashboard
    cid, eid = await _seed(ui)
    worker: Worker = new_worker(dev_client, workflows=[ApprovalOnlyWorkflow])
    async with worker:
        handle = await dev_client.start_workflow(
            ApprovalOnlyWorkflow.run,
            PendingDraft(client_id=cid, email_id=eid),
            id=client_workflow_id(cid),
            task_queue=worker.task_queue,
        )
        await shoot_login(page, ui.base_url)
        await sign_in(page, ui.base_url, OPS_USER, OPS_PASSWORD)
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await find_at_risk_client(page, cid)
        await expect(page.locator("#live-state dt").first).to_be_visible()  # live state arrived
        await screenshots(page, ui.base_url, cid)
        await approve_with_edit(page, ui.base_url, eid)
        decisions = await handle.result()
    assert decisions.approved[0].subject == "Grace, your winter knitwear is here"
    assert decisions.approved[0].approved_by == OPS_USER


async def shoot_login(page: Page, base_url: str) -> None:
    for width in WIDTHS.values():
        await page.set_viewport_size({"width": width, "height": 900})
        await page.goto(f"{base_url}/ui/login")
        await shoot(page, "login")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def find_at_risk_client(page: Page, cid: str) -> None:
    """Clients -> filter at risk (htmx swaps the list) -> search with the keyboard -> open."""
    await page.get_by_role("link", name="Clients", exact=True).click()
    await page.get_by_label("Tier").select_option("at_risk")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^2 clients"))  # of 85
    # the XSS name is text: visible as typed, and no dialog opened (checked by the fixture)
    await expect(page.get_by_role("link", name=f"{XSS} Xss")).to_be_visible()
    await page.keyboard.press("/")
    await expect(page.locator("#search")).to_be_focused()
    await page.keyboard.type("grace")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^1 client\b"))
    await page.get_by_role("link", name="Grace Hopper").click()
    await page.wait_for_url(f"**/ui/clients/{cid}")
    await expect(page.get_by_role("heading", name=re.compile("Grace Hopper"))).to_be_visible()


async def screenshots(page: Page, base_url: str, cid: str) -> None:
    pages = {
        "overview": "/ui",
        "clients": "/ui/clients?tier=at_risk",
        "client": f"/ui/clients/{cid}",
        "approvals": "/ui/approvals",
        "uplift": "/ui/uplift",
    }
    for width in WIDTHS.values():
        await page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            await page.goto(f"{base_url}{path}")
            await page.wait_for_load_state("networkidle")
            await shoot(page, name)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def approve_with_edit(page: Page, base_url: str, eid: str) -> None:
    await page.goto(f"{base_url}/ui/approvals")
    card = page.locator(f"#draft-{eid}")
    preview = card.frame_locator("iframe.mail")
    await expect(preview.locator("b")).to_have_text("Ada")  # the HTML as the client sees it
    await card.get_by_text("Edit, then approve").click()
    await card.get_by_label("Subject").fill("Grace, your winter knitwear is here")
    await card.get_by_role("button", name="Approve edited draft").click()
    outcome = page.locator(f'#draft-{eid} [data-outcome="ok"]')
    await expect(outcome).to_contain_text("the email is now approved")
    await shoot(page, "approved")
