"""The policy page over HTTP: ops read it, only an admin edits; preview shows the diff and
saves nothing; confirm saves once; a stale preview or a bad document is refused with reasons."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.opsusers import create_user
from core.store.policy_store import policy_versions
from tests.ui.conftest import CSRF, Dashboard, sign_in

ADMIN, ADMIN_PASSWORD = "ops.admin", "a long admin passphrase"


@pytest.fixture
async def admin(dashboard: Dashboard) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser session, signed in as an admin."""
    await create_user(dashboard.sessions, ADMIN, ADMIN_PASSWORD, role="admin")
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as http:
        assert (await sign_in(http, ADMIN, ADMIN_PASSWORD)).status_code == 303
        yield http


def _document(page: str) -> dict[str, object]:
    found = re.search(r'<textarea id="policy-document" name="document"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page
    return dict(json.loads(found.group(1).replace("&#34;", '"').replace("&quot;", '"')))


async def _csrf(http: httpx.AsyncClient) -> str:
    found = CSRF.search((await http.get("/ui/policy")).text)
    assert found
    return found.group(1)


async def _versions(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return [v.version for v in await policy_versions(session)]


async def test_ui_policy_ops_see_it_but_cannot_edit(dashboard: Dashboard) -> None:
    page = await dashboard.http.get("/ui/policy")
    assert page.status_code == 200
    assert 'data-version="1"' in page.text
    assert "Only an admin may change the policy." in page.text
    assert 'id="policy-document"' not in page.text
    csrf = await dashboard.csrf("/ui/policy")
    refused = await dashboard.http.post("/ui/policy/preview", data={"csrf_token": csrf, "document": "{}"})
    assert refused.status_code == 403


async def test_ui_policy_preview_diff_then_confirm_saves_one_version(
    dashboard: Dashboard, admin: httpx.AsyncClient
) -> None:
    document = _document((await admin.get("/ui/policy")).text)
    document["frequency_cap_days"] = 21
    csrf = await _csrf(admin)
    preview = await admin.post(
        "/ui/policy/preview", data={"csrf_token": csrf, "document": json.dumps(document)}
    )
    assert preview.status_code == 200
    assert 'data-path="frequency_cap_days"' in preview.text
    assert preview.text.count("data-path=") == 1
    assert await _versions(dashboard.sessions) == [1]  # nothing saved yet
    form = {"csrf_token": csrf, "document": json.dumps(document), "base_version": "1"}
    saved = await admin.post("/ui/policy", data=form)
    assert (saved.status_code, saved.headers["location"]) == (303, "/ui/policy?saved=2")
    assert await _versions(dashboard.sessions) == [2, 1]
    stale = await admin.post("/ui/policy", data=form)  # the same confirmation again: version 2 exists
    assert stale.status_code == 422
    assert "version 2 was saved meanwhile" in stale.text
    assert await _versions(dashboard.sessions) == [2, 1]
    page = (await admin.get("/ui/policy?saved=2")).text
    assert "ui:ops.admin" in page
    assert "Version 2 saved" in page


async def test_ui_policy_invalid_document_names_the_field(admin: httpx.AsyncClient) -> None:
    document = _document((await admin.get("/ui/policy")).text)
    document["quiet_hours"] = {"start": 30, "end": 9}
    csrf = await _csrf(admin)
    page = await admin.post("/ui/policy/preview", data={"csrf_token": csrf, "document": json.dumps(document)})
    assert page.status_code == 422
    assert "<code>quiet_hours.start</code>: Input should be less than or equal to 23" in page.text
    broken = await admin.post("/ui/policy/preview", data={"csrf_token": csrf, "document": "{not json"})
    assert broken.status_code == 422
    assert "The policy was not saved." in broken.text
