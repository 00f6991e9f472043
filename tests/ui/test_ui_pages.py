"""Dashboard pages render what the read model holds, escaped, filtered and paginated."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.store.models import Email
from tests.ui import factories as f
from tests.ui.conftest import Dashboard

XSS = "<script>alert(1)</script>"


def _rows(html: str) -> list[str]:
    return re.findall(r'href="/ui/clients/([^"/?]+)"', html)


async def test_ui_overview_counts_and_charts(dashboard: Dashboard) -> None:
    await f.add(dashboard.sessions, *f.at_risk_story("c-risk", "e-1"))
    await f.add(dashboard.sessions, f.client_row("c-ok", score=91, tier="active", segment="champions"))
    page = await dashboard.http.get("/ui")
    assert page.status_code == 200
    html = page.text
    assert 'href="/ui/clients?tier=at_risk"' in html
    assert html.count("<svg") == 2
    assert "champions" in html
    assert "pending approval" in html
    assert "Clients at risk at the end of each week" in html


async def test_ui_overview_empty_database(dashboard: Dashboard) -> None:
    page = await dashboard.http.get("/ui")
    assert page.status_code == 200
    assert "No email drafted yet" in page.text
    assert "No client has been scored yet" in page.text


async def test_ui_overview_segments_card_tells_scored_from_segmented(dashboard: Dashboard) -> None:
    """Scores exist before segments (the refit assigns those): the card says which is missing."""
    await f.add(dashboard.sessions, f.client_row("c-1", segment=None), f.client_row("c-2", segment=None))
    html = (await dashboard.http.get("/ui")).text
    assert "No client has been scored yet" not in html
    assert "No segments yet: 2 clients are scored" in html


async def test_ui_clients_search_reads_a_nul_as_a_space(dashboard: Dashboard) -> None:
    """No stored text holds a NUL; in a search it separates words (SQLite's index would read
    it as the end of a phrase, PostgreSQL cannot compare with it): never an error page."""
    await f.add(dashboard.sessions, f.client_row("c-1", first_name="Zedd"), f.client_row("c-2"))
    for q, expected in [("ze\x00dd", ["c-1"]), ("zedd\x00", ["c-1"]), ("\x00", ["c-1", "c-2"])]:
        response = await dashboard.http.get("/ui/clients", params={"q": q})
        assert response.status_code == 200, q
        assert sorted(_rows(response.text)) == expected, q


async def test_ui_clients_filter_search_sort_paginate(dashboard: Dashboard) -> None:
    rows = [
        f.client_row(
            f"c-{i:03d}",
            first_name="Zed" if i % 2 else "Ann",
            score=float(i),
            tier="at_risk" if i < 10 else "active",
        )
        for i in range(60)
    ]
    await f.add(dashboard.sessions, *rows)
    first = await dashboard.http.get("/ui/clients", params={"sort": "score"})
    assert "60 clients" in first.text
    assert "page 1 of 2" in first.text
    assert _rows(first.text)[0] == "c-000"
    second = await dashboard.http.get("/ui/clients", params={"sort": "score", "page": 2})
    assert _rows(second.text) == [f"c-{i:03d}" for i in range(50, 60)]
    at_risk = await dashboard.http.get("/ui/clients", params={"tier": "at_risk", "sort": "-score"})
    assert _rows(at_risk.text) == [f"c-{i:03d}" for i in range(9, -1, -1)]
    search = await dashboard.http.get("/ui/clients", params={"q": "ZED", "score_min": 50})
    assert set(_rows(search.text)) == {f"c-{i:03d}" for i in range(51, 60, 2)}
    blanks = {"q": "", "tier": "", "segment": "", "score_min": "", "score_max": "", "last_order_after": ""}
    assert "60 clients" in (await dashboard.http.get("/ui/clients", params=blanks)).text
    by_email = await dashboard.http.get("/ui/clients", params={"q": "c-007@example"})
    assert _rows(by_email.text) == ["c-007"]
    fragment = await dashboard.http.get("/ui/clients", params={"q": "c-007"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert "c-007" in fragment.text


async def test_ui_clients_last_order_range(dashboard: Dashboard) -> None:
    await f.add(
        dashboard.sessions,
        f.client_row("c-old", last_order_at=f.NOW - timedelta(days=200)),
        f.client_row("c-new", last_order_at=f.NOW - timedelta(days=5)),
        f.client_row("c-never"),
    )
    cutoff = (f.NOW - timedelta(days=100)).date().isoformat()
    before = await dashboard.http.get("/ui/clients", params={"last_order_before": cutoff})
    assert _rows(before.text) == ["c-old"]
    after = await dashboard.http.get("/ui/clients", params={"last_order_after": cutoff})
    assert _rows(after.text) == ["c-new"]


async def test_ui_clients_like_wildcards_are_literal(dashboard: Dashboard) -> None:
    await f.add(
        dashboard.sessions,
        f.client_row("c-1", last_name="100% wool"),
        f.client_row("c-2", last_name="cotton"),
    )
    assert _rows((await dashboard.http.get("/ui/clients", params={"q": "%"})).text) == ["c-1"]
    assert _rows((await dashboard.http.get("/ui/clients", params={"q": "_"})).text) == []


@pytest.mark.parametrize(
    "params",
    [
        {"tier": "nope"},
        {"score_min": "-1"},
        {"page": "0"},
        {"sort": "id; drop"},
        {"last_order_after": "soon"},
    ],
)
async def test_ui_clients_bad_filter_is_422(dashboard: Dashboard, params: dict[str, str]) -> None:
    response = await dashboard.http.get("/ui/clients", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"].startswith("query.")


async def test_ui_client_page_tells_the_story(dashboard: Dashboard) -> None:
    story = f.at_risk_story("c-1", "e-1")
    email = next(r for r in story if isinstance(r, Email))
    sent = f.email_row(
        "c-1",
        "e-0",
        status="sent",
        subject="Spring is here",
        sent_at=f.NOW - timedelta(days=200),
        created_at=f.NOW - timedelta(days=201),
    )
    events = [
        f.event_row(sent, "approved", f.NOW - timedelta(days=200, hours=2), actor="ops.bob"),
        f.event_row(sent, "sent", f.NOW - timedelta(days=200)),
    ]
    await f.add(dashboard.sessions, *story, sent, *events)
    html = (await dashboard.http.get("/ui/clients/c-1")).text
    assert "no order for 94 days, usually orders every 35" in html
    assert "<polyline" in html
    assert "approved by ops.bob" in html
    assert "Spring is here" in html
    assert email.subject
    assert email.subject in html
    assert "opened: not tracked" in html
    assert 'href="http://127.0.0.1:8233/namespaces/default/workflows/client-c-1"' in html
    assert 'hx-get="/ui/clients/c-1/state"' in html
    assert "474.00 USD" in html  # 6 orders of 79.00


async def test_ui_client_page_unknown_is_404(dashboard: Dashboard) -> None:
    response = await dashboard.http.get("/ui/clients/c-nobody")
    assert response.status_code == 404
    assert "No such client" in response.text
    assert (await dashboard.http.get("/ui/clients/bad%20id")).status_code == 422


async def test_ui_client_state_falls_back_when_temporal_is_down(dashboard: Dashboard) -> None:
    await f.add(dashboard.sessions, f.client_row("c-1"))
    response = await dashboard.http.get("/ui/clients/c-1/state", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "unavailable right now" in response.text


async def test_ui_pages_escape_client_data(dashboard: Dashboard) -> None:
    story = f.at_risk_story(
        "c-x", "e-x", first_name=XSS, last_name='"><img src=x onerror=alert(2)>', style_notes=XSS
    )
    await f.add(dashboard.sessions, *story)
    for path in ["/ui/clients", "/ui/clients/c-x", "/ui/approvals", "/ui/clients?q=script"]:
        html = (await dashboard.http.get(path)).text
        assert XSS not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_ui_approvals_preview_is_sandboxed(dashboard: Dashboard) -> None:
    html_body = '<p>Hi</p><script>alert("mail")</script>'
    await f.add(dashboard.sessions, f.client_row("c-1"), f.email_row("c-1", "e-1", body_html=html_body))
    page = (await dashboard.http.get("/ui/approvals")).text
    assert '<iframe class="mail" sandbox=""' in page
    assert 'srcdoc="&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(&#34;mail&#34;)&lt;/script&gt;"' in page
    assert "1 waiting" in page
    assert "unsubscribe footer" in page


async def test_ui_uplift_not_enough_data(dashboard: Dashboard) -> None:
    page = await dashboard.http.get("/ui/uplift")
    assert page.status_code == 200
    assert "Not enough data yet" in page.text


async def test_ui_uplift_reports_rates(dashboard: Dashboard) -> None:
    await f.add(dashboard.sessions, *f.uplift_rows("c"))
    html = (await dashboard.http.get("/ui/uplift")).text
    assert "Not enough data yet" not in html
    assert "20 / 40" in html
    assert "10 / 40" in html
    assert "50.0%" in html
    assert "25.0%" in html
    assert "+25.0 pts" in html


@pytest.mark.parametrize(
    ("sort", "expected"), [("score", ["c-lo", "c-hi", "c-none"]), ("-score", ["c-hi", "c-lo", "c-none"])]
)
async def test_ui_clients_unscored_sort_last(dashboard: Dashboard, sort: str, expected: list[str]) -> None:
    await f.add(
        dashboard.sessions,
        f.client_row("c-none", score=None, tier=None),
        f.client_row("c-lo", score=10.0),
        f.client_row("c-hi", score=90.0),
    )
    assert _rows((await dashboard.http.get("/ui/clients", params={"sort": sort})).text) == expected


async def test_ui_clients_history_restore_gets_the_whole_page(dashboard: Dashboard) -> None:
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    page = await dashboard.http.get("/ui/clients", params={"q": "x"}, headers=headers)
    assert "<html" in page.text
