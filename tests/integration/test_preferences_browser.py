"""The preference page in headless Chromium: a person pauses, resubscribes and unsubscribes
with the page's own buttons (plain forms, no script), and each choice is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from core.domain.tokens import make_unsubscribe_token
from tests.helpers import unique_id
from tests.integration.conftest import Stack
from tests.integration.feedback_helpers import consent_sources
from tests.ui.browser import browser, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.temporal]
__all__ = ["browser"]  # the fixture, imported so pytest finds it here


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """Phone-sized: the page a client opens from an email."""
    async with watched_page(browser, 390, 800) as page:
        yield page


async def test_preferences_browser_pause_resubscribe_unsubscribe(stack: Stack, page: Page) -> None:
    cid = unique_id("b")
    token = make_unsubscribe_token(cid, stack.settings.security.unsubscribe_secret.get_secret_value())
    await page.goto(f"{stack.base_url}/u/{token}")
    await page.get_by_text("You are subscribed.").wait_for()
    await page.get_by_role("button", name="Pause for 30 days").click()
    await page.get_by_text("Emails are paused until").wait_for()
    await page.get_by_role("button", name="Resubscribe").click()
    await page.get_by_role("heading", name="You are subscribed").wait_for()
    await page.get_by_role("button", name="Unsubscribe").click()
    await page.get_by_text("You are unsubscribed: we send you no emails.").wait_for()
    assert await page.get_by_role("button", name="Pause for 30 days").count() == 0
    assert await consent_sources(stack.sessions, cid) == [
        ("paused", "preferences"),
        ("resubscribed", "preferences"),
        ("unsubscribed", "preferences"),
    ]
