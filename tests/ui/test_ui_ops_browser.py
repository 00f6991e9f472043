"""The ops pages in headless Chromium: add a client, act on them, the emails page, bulk
approve and the audit log. Every action goes through a real form, CSRF and confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from temporalio.client import Client

from core.contracts.messages import client_workflow_id
from core.store.opsusers import create_user
from tests.helpers import new_worker, unique_id
from tests.ui import factories as f
from tests.ui.approval_workflow import ApprovalOnlyWorkflow, PendingDraft
from tests.ui.browser import browser, page, sign_in
from tests.ui.conftest import OPS_PASSWORD, OPS_USER, Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.temporal]
__all__ = ["browser", "page"]  # the fixtures, imported so pytest finds them here
ADMIN, ADMIN_PASSWORD = "ops.root", "another long passphrase"


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_browser_add_client_then_pause_resume_unsubscribe(
    temporal_dashboard: Dashboard, dev_client: Client, page: Page
) -> None:
    ui = temporal_dashboard
    cid = unique_id("new")
    await sign_in(page, ui.base_url, OPS_USER, OPS_PASSWORD)
    await page.get_by_role("link", name="Clients", exact=True).click()
    await page.get_by_role("link", name="Add a client").click()
    await page.get_by_label("Client id (required)").fill("not an id!")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Add client").click()
    await expect(page.locator("#e-client_id")).to_contain_text("letters, digits")
    await expect(page.locator("#e-time_zone")).to_contain_text("unknown IANA time zone")
    await page.get_by_label("Client id (required)").fill(cid)
    await page.get_by_label("Time zone").fill("Europe/Stockholm")
    await page.get_by_label("First name").fill("Grace")
    await page.get_by_role("button", name="Add client").click()
    await page.wait_for_url(f"**/ui/clients/{cid}?done=created")
    await expect(page.get_by_role("heading", name=re.compile("Grace"))).to_be_visible()
    actions = page.locator("#client-actions")
    pause = actions.get_by_role("form", name="Pause")
    await pause.get_by_label("Reason").fill("asked by phone")
    await pause.get_by_role("button", name="Pause").click()  # unconfirmed: the browser holds it
    await expect(page.locator("#consent-state")).to_contain_text("emailable")
    await pause.get_by_label("Pause drafting and sending").check()
    await pause.get_by_role("button", name="Pause").click()
    await expect(page.locator('[data-outcome="ok"]')).to_contain_text("Paused")
    await expect(page.locator("#consent-state")).to_contain_text(f"paused by {OPS_USER}")
    await expect(page.locator("#consent-state")).to_contain_text("asked by phone")
    resume = actions.get_by_role("form", name="Resume")
    await resume.get_by_label("Resume drafting").check()
    await resume.get_by_role("button", name="Resume").click()
    await expect(page.locator('[data-outcome="ok"]')).to_contain_text("Resumed")
    gone = actions.get_by_role("form", name="Unsubscribe")
    await gone.get_by_label("Reason").fill("asked by phone")
    await gone.get_by_label("Unsubscribe this client").check()
    await gone.get_by_role("button", name="Unsubscribe").click()
    await expect(page.locator('[data-outcome="ok"]')).to_contain_text("Unsubscribed")
    await expect(page.locator("#consent-state")).to_contain_text("unsubscribed")
    description = await dev_client.get_workflow_handle(client_workflow_id(cid)).describe()
    assert description.workflow_type == "ClientEngagementWorkflow"


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_browser_emails_page_filters_pages_and_resolves(dashboard: Dashboard, page: Page) -> None:
    ui = dashboard
    cid, other = unique_id("m"), unique_id("o")
    rows: list[object] = [
        f.client_row(cid, tier="at_risk", first_name="Mary"),
        f.client_row(other, tier="active"),
    ]
    for i in range(55):
        status = "unknown" if i == 3 else "sent"
        rows.append(f.email_row(cid, f"{cid}-e{i:02d}", status, created_at=f.NOW - timedelta(days=i)))
    rows.append(f.email_row(other, f"{other}-e0", "sent", created_at=f.NOW))
    await f.add(ui.sessions, *rows)
    await sign_in(page, ui.base_url, OPS_USER, OPS_PASSWORD)
    await page.get_by_role("link", name="Emails", exact=True).click()
    await page.get_by_label("Client id").fill(cid)
    await page.get_by_role("button", name="Filter").click()
    table = page.locator("#emails tbody tr")
    await expect(table).to_have_count(50)
    await page.get_by_role("link", name="Older →").click()
    await expect(table).to_have_count(5)
    await page.goto(f"{ui.base_url}/ui/emails?tier=active")
    await expect(page.locator(f'tr[data-email="{other}-e0"]')).to_be_visible()
    await expect(page.locator(f'tr[data-email="{cid}-e00"]')).to_have_count(0)
    await page.goto(f"{ui.base_url}/ui/emails?client_id={cid}&status=unknown")
    await expect(table).to_have_count(1)
    row = page.locator(f'tr[data-email="{cid}-e03"]')
    await row.get_by_text("Resolve…").click()
    await row.get_by_label("it was sent").check()
    await row.get_by_label("Record this outcome").check()
    await row.get_by_role("button", name="Resolve").click()
    await expect(page.locator('[data-outcome="ok"]')).to_contain_text("outcome was recorded")
    start = (f.NOW - timedelta(days=2)).date().isoformat()
    await page.goto(f"{ui.base_url}/ui/emails?client_id={cid}&created_from={start}&created_to={f.NOW.date()}")
    await expect(table).to_have_count(3)
    since = (f.NOW - timedelta(days=3)).date()
    await page.goto(f"{ui.base_url}/ui/emails?client_id={cid}&status=sent&created_from={since}")
    await expect(page.locator(f'tr[data-email="{cid}-e03"]')).to_be_visible()  # resolved as sent


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_browser_bulk_approve_shows_each_result(
    temporal_dashboard: Dashboard, dev_client: Client, page: Page
) -> None:
    ui = temporal_dashboard
    stories = [(unique_id("b"), unique_id("e")) for _ in range(3)]
    for cid, eid in stories:
        await f.add(ui.sessions, *f.at_risk_story(cid, eid, first_name="Bulk"))
    worker = new_worker(dev_client, workflows=[ApprovalOnlyWorkflow])
    async with worker:
        for cid, eid in stories[:2]:  # the third draft's workflow is gone: refused
            await dev_client.start_workflow(
                ApprovalOnlyWorkflow.run, PendingDraft(client_id=cid, email_id=eid),
                id=client_workflow_id(cid), task_queue=worker.task_queue,
            )  # fmt: skip
        await sign_in(page, ui.base_url, OPS_USER, OPS_PASSWORD)
        await page.get_by_role("link", name="Approvals").click()
        for _, eid in stories:
            await page.locator(f"#draft-{eid}").get_by_label(re.compile("^Select")).check()
        await page.get_by_role("button", name="Approve selected").click()
        await expect(page.get_by_role("heading", name="Bulk approve: 2 of 3 done")).to_be_visible()
        for _, eid in stories[:2]:
            await expect(page.locator(f'tr[data-email="{eid}"]')).to_have_attribute("data-outcome", "ok")
        await expect(page.locator(f'tr[data-email="{stories[2][1]}"]')).to_have_attribute(
            "data-outcome", "refused"
        )


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_browser_audit_page_for_admins_only(dashboard: Dashboard, page: Page) -> None:
    ui = dashboard
    await create_user(ui.sessions, ADMIN, ADMIN_PASSWORD, role="admin")
    assert (await ui.http.get("/ui/audit")).status_code == 403  # the fixture's user approves, no more
    await page.goto(f"{ui.base_url}/ui/login")
    await page.get_by_label("Username").fill(ADMIN)
    await page.get_by_label("Password").fill("wrong password here")
    await page.keyboard.press("Enter")
    await expect(page.locator(".alert")).to_contain_text("Wrong username or password")
    await sign_in(page, ui.base_url, ADMIN, ADMIN_PASSWORD)
    await page.get_by_role("link", name="Audit").click()
    table = page.locator("#audit tbody")
    await expect(table).to_contain_text("ui.sign_in")
    await page.get_by_label("Outcome").select_option("denied")
    await page.get_by_label("Actor").fill(ADMIN)
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#audit tbody tr")).to_have_count(1)
    await expect(table).to_contain_text("wrong credentials")
    await expect(table).to_contain_text("127.0.0.1")
