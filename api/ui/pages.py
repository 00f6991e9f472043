"""Dashboard pages: overview, clients, a client's story, the live workflow state, uplift."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, Field
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.ui import charts, queries
from api.ui.common import UiDep, is_htmx, render, start_timer
from api.ui.ops import flash
from core.contracts.messages import CLIENT_ID_PATTERN, QUERY_STATE, client_workflow_id
from core.contracts.state import ClientStateView
from core.domain.uplift import report_from_counts
from core.store import rollups
from core.store.db import utcnow
from core.store.ops_models import ClientPause

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(start_timer)])
STATE_TIMEOUT_SECONDS = 2.0
ClientIdPath = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, max_length=128)]
Sort = Literal["score", "-score", "last_order", "-last_order", "name", "-name", "orders", "-orders"]
TierFilter = Literal["", "active", "cooling", "at_risk", "lapsed"]
# A plain GET form (and htmx) sends empty fields as "": they mean "no filter", not bad input.
Blank = BeforeValidator(lambda v: None if v == "" else v)
Score = Annotated[Annotated[float, Field(ge=0, le=100)] | None, Blank, Query()]
Day = Annotated[date | None, Blank, Query()]


@router.get("", response_class=HTMLResponse)
async def overview(request: Request, ui: UiDep) -> HTMLResponse:
    """Counts by tier, segment and email status; score distribution; at risk over time."""
    data = await queries.overview(ui.state.sessions, utcnow())
    labels = [str(i * 10) for i in range(queries.HISTOGRAM_BINS)]
    titles = [
        f"score {i * 10}-{i * 10 + (10 if i == 9 else 9)}: {n:,} clients"
        for i, n in enumerate(data.histogram)
    ]
    histogram = charts.bar_chart(
        labels, data.histogram, "Clients by score, in bands of 10 (0 = gone, 100 = thriving)", titles
    )
    at_risk = charts.line_chart(
        [(at, float(n)) for at, n in data.at_risk_weeks],
        "Clients at risk at the end of each week (last 26 weeks)",
    )
    context = {"data": data, "histogram": histogram, "at_risk": at_risk}
    return render(request, "overview.html", context, ui.session)


def _day(value: date | None) -> datetime | None:
    return datetime.combine(value, time.min, tzinfo=UTC) if value else None


@router.get("/clients", response_class=HTMLResponse)
async def clients(
    request: Request,
    ui: UiDep,
    q: Annotated[str, Query(max_length=100)] = "",
    tier: TierFilter = "",
    segment: Annotated[str, Query(max_length=32)] = "",
    score_min: Score = None,
    score_max: Score = None,
    last_order_after: Day = None,
    last_order_before: Day = None,
    sort: Sort = "score",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Clients by risk: filter, search, sort, paginate (50 a page)."""
    f = queries.ClientFilter(
        q=q.strip(),
        tier=tier,
        segment=segment,
        score_min=score_min,
        score_max=score_max,
        last_order_after=_day(last_order_after),
        last_order_before=_day(last_order_before + timedelta(days=1) if last_order_before else None),
        sort=sort,
        page=page,
    )
    counts = await rollups.current(ui.state.sessions)  # folds a backlog of deltas in
    async with ui.state.sessions() as session:
        found = await queries.list_clients(session, f, counts)
    segments = queries.segments(counts)
    params = {
        k: v
        for k, v in request.query_params.items()
        if k in {"q", "tier", "segment", "score_min", "score_max", "last_order_after", "last_order_before"}
    }
    context = {
        "rows": found.rows,
        "total": found.total,
        "capped": found.capped,
        "more": found.more(page),
        "f": f,
        "params": params,
        "segments": segments,
        "tiers": queries.TIERS,
        "pages": found.pages,
        "raw": {"last_order_after": last_order_after, "last_order_before": last_order_before},
    }
    template = "clients_rows.html" if is_htmx(request) else "clients.html"
    return render(request, template, context, ui.session)


def workflow_url(ui_base: str, namespace: str, client_id: str) -> str:
    """The client's workflow in the Temporal Web UI."""
    workflow_id = quote(client_workflow_id(client_id), safe="")
    return f"{ui_base.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/{workflow_id}"


@router.get("/clients/{client_id}", response_class=HTMLResponse)
async def client_page(request: Request, ui: UiDep, client_id: ClientIdPath) -> HTMLResponse:
    """A client's story: profile, score over time with reasons, orders, email timeline."""
    async with ui.state.sessions() as session:
        detail = await queries.client_detail(session, client_id)
        hold = await session.get(ClientPause, client_id)
    if detail is None:
        return render(request, "not_found.html", {"what": "client"}, ui.session, status=404)
    titles = [
        f"{s.scored_at:%Y-%m-%d}: {s.score:.0f} ({s.tier}) — {'; '.join(map(str, s.reasons))}"
        for s in detail.scores
    ]
    chart = charts.line_chart(
        [(s.scored_at, s.score) for s in detail.scores],
        "Score over time (hover a point for its reasons)",
        y_max=100,
        titles=titles,
    )
    temporal = ui.state.settings.temporal
    context = {
        "d": detail,
        "c": detail.client,
        "chart": chart,
        "workflow_url": workflow_url(temporal.web_ui_url, temporal.namespace, client_id),
        "workflow_id": client_workflow_id(client_id),
        "hold": hold,
        "flash": flash(request),
    }
    return render(request, "client.html", context, ui.session)


async def _query_state(ui: UiDep, client_id: str) -> tuple[ClientStateView | None, str]:
    handle = ui.state.temporal.get_workflow_handle(client_workflow_id(client_id))
    try:
        state = await asyncio.wait_for(
            handle.query(
                QUERY_STATE,
                result_type=ClientStateView,
                rpc_timeout=timedelta(seconds=STATE_TIMEOUT_SECONDS),
            ),
            STATE_TIMEOUT_SECONDS + 1,
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, "No workflow for this client yet."
        return None, "Temporal did not answer; the live state is unavailable right now."
    except WorkflowQueryFailedError:
        return None, "The workflow could not answer the query."
    except (TimeoutError, RuntimeError):
        return None, "Temporal did not answer in time; the live state is unavailable right now."
    return state, ""


@router.get("/clients/{client_id}/state", response_class=HTMLResponse)
async def client_state(request: Request, ui: UiDep, client_id: ClientIdPath) -> HTMLResponse:
    """The workflow's own view (query ``state``), loaded after the page so it never slows it."""
    state, problem = await _query_state(ui, client_id)
    fields = state.model_dump(mode="json") if state else {}
    template = "client_state.html" if is_htmx(request) else "client_state_page.html"
    return render(request, template, {"fields": fields, "problem": problem}, ui.session)


@router.get("/uplift", response_class=HTMLResponse)
async def uplift(request: Request, ui: UiDep) -> HTMLResponse:
    """Reorder rates within 30/60/90 days, emailed vs holdout, with 95% intervals."""
    counts, episodes = await queries.uplift_counts(ui.state.sessions, utcnow())
    report = report_from_counts(counts, episodes)
    return render(request, "uplift.html", {"report": report}, ui.session)
