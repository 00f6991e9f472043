"""The policy page in headless Chromium: an admin edits the document, reviews the diff,
confirms, and finds the new version at the top of the history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from core.store.opsusers import create_user
from tests.ui.browser import browser, shoot, sign_in
from tests.ui.conftest import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.temporal, pytest.mark.slow]
__all__ = ["browser"]  # the fixture, imported so pytest finds it here
ADMIN, ADMIN_PASSWORD = "ops.admin", "a long admin passphrase"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


def _win_back(document: dict[str, object]) -> str:
    tiers = dict(document["tiers"])  # type: ignore[call-overload]
    tiers["lapsed"] = {**tiers["lapsed"], "sequence": {"touches": 3, "follow_up_days": [5, 10]}}
    return json.dumps({**document, "tiers": tiers, "frequency_cap_days": 14}, indent=2)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_ui_policy_browser_edit_preview_confirm_history(
    temporal_dashboard: Dashboard, page: Page
) -> None:
    ui = temporal_dashboard
    await create_user(ui.sessions, ADMIN, ADMIN_PASSWORD, role="admin")
    await sign_in(page, ui.base_url, ADMIN, ADMIN_PASSWORD)
    await page.get_by_role("link", name="Policy", exact=True).click()
    await expect(page.get_by_role("heading", name="Live policy version 1")).to_be_visible()
    await expect(page.locator('tr[data-tier="lapsed"] td').first).to_have_text("yes")
    await shoot(page, "policy")

    editor = page.get_by_label("Policy document (JSON)")
    await editor.fill(_win_back(json.loads(await editor.input_value())))
    await page.get_by_role("button", name="Preview changes").click()
    await expect(page.get_by_role("heading", name="Review the change to version 1")).to_be_visible()
    rows = page.locator("table.diff tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator('tr[data-path="frequency_cap_days"] td.new')).to_have_text("14")
    await expect(page.locator('tr[data-path="tiers.lapsed.sequence.touches"] td.old')).to_have_text("2")
    await shoot(page, "policy-preview")

    await page.get_by_role("button", name="Confirm and save version 2").click()
    await page.wait_for_url("**/ui/policy?saved=2")
    await expect(page.locator('[data-outcome="saved"]')).to_contain_text("Version 2 saved")
    await expect(page.get_by_role("heading", name="Live policy version 2")).to_be_visible()
    await expect(page.locator('tr[data-tier="lapsed"] td').nth(2)).to_have_text("3 (5.0, 10.0)")
    latest = page.locator("details.version").first
    await expect(latest.locator("summary")).to_contain_text("Version 2 · ")
    await expect(latest.locator("summary")).to_contain_text(f"ui:{ADMIN} · 3 changes")
    await expect(latest.locator('tr[data-path="frequency_cap_days"] td.old')).to_have_text("30")
    await page.locator('details.version[data-version="1"] summary').click()
    await expect(page.locator('details.version[data-version="1"] table')).to_be_visible()
    await shoot(page, "policy-history")
