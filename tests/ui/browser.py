"""Headless Chromium for the dashboard tests: Debian's ``chromium`` driven by Playwright.

A missing browser fails the tests with the install command; it never skips them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat at session start
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's chromium "
            "(`apt-get update && apt-get install -y chromium`, as .ci/run does)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


@contextlib.asynccontextmanager
async def watched_page(browser: Browser, width: int, height: int) -> AsyncIterator[Page]:
    """A page of its own context; any script dialog (an injected script ran) fails the test."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    yield page
    await context.close()
    assert dialogs == [], f"a script ran: {dialogs}"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop-sized page."""
    async with watched_page(browser, 1280, 900) as page:
        yield page


async def shoot(page: Page, name: str) -> None:
    """Full-page screenshot at the page's current width into ``screenshots/``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Sign in with the keyboard only: type, Tab, type, Enter."""
    await page.goto(f"{base_url}/ui")
    await page.wait_for_url("**/ui/login**")
    await page.get_by_label("Username").fill(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base_url}/ui")
