"""Ops pages over HTTP: roles, confirmation, blank filters, nothing reflected."""

from __future__ import annotations

import httpx

from core.store.opsusers import create_user
from tests.helpers import unique_id
from tests.ui import factories as f
from tests.ui.conftest import Dashboard, sign_in


async def test_ui_ops_blank_filters_mean_no_filter(dashboard: Dashboard) -> None:
    page = await dashboard.http.get(
        "/ui/emails", params={"status": "", "tier": "", "created_from": "", "created_to": "", "client_id": ""}
    )
    assert page.status_code == 200, page.text
    bad = await dashboard.http.get("/ui/emails", params={"status": "lost"})
    assert bad.status_code == 422


async def test_ui_ops_action_needs_confirmation_and_reflects_nothing(dashboard: Dashboard) -> None:
    cid = unique_id("c")
    await f.add(dashboard.sessions, f.client_row(cid))
    csrf = await dashboard.csrf(f"/ui/clients/{cid}")
    response = await dashboard.http.post(f"/ui/clients/{cid}/pause", data={"csrf_token": csrf, "reason": "x"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/clients/{cid}?problem=confirm"
    page = await dashboard.http.get(f"/ui/clients/{cid}?problem=<script>")
    assert "<script>" not in page.text
    assert "Tick the confirmation box" in (await dashboard.http.get(response.headers["location"])).text


async def test_ui_ops_viewer_sees_no_buttons_and_cannot_act(dashboard: Dashboard) -> None:
    cid = unique_id("c")
    await f.add(dashboard.sessions, f.client_row(cid))
    await create_user(dashboard.sessions, "ops.viewer", "a long viewer password", role="viewer")
    async with httpx.AsyncClient(base_url=dashboard.base_url) as http:
        assert (await sign_in(http, "ops.viewer", "a long viewer password")).status_code == 303
        page = await http.get(f"/ui/clients/{cid}")
        assert 'action="/ui/clients/' not in page.text
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        refused = await http.post(f"/ui/clients/{cid}/pause", data={"csrf_token": csrf, "confirm": "yes"})
        assert refused.status_code == 403
        assert (await http.get("/ui/audit")).status_code == 403
