"""Approve and reject from the queue: page -> workflow Update -> answer, on the dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from core.contracts.messages import client_workflow_id
from tests.helpers import new_worker, unique_id
from tests.ui import factories as f
from tests.ui.approval_workflow import ApprovalOnlyWorkflow, Decisions, PendingDraft
from tests.ui.conftest import Dashboard

pytestmark = pytest.mark.temporal


@dataclass
class Draft:
    client_id: str
    email_id: str
    handle: WorkflowHandle[ApprovalOnlyWorkflow, Decisions]


@pytest.fixture
async def worker(dev_client: Client) -> AsyncIterator[Worker]:
    w = new_worker(dev_client, workflows=[ApprovalOnlyWorkflow])
    async with w:
        yield w


@pytest.fixture
async def draft(temporal_dashboard: Dashboard, dev_client: Client, worker: Worker) -> Draft:
    cid, eid = unique_id("c"), unique_id("e")
    await f.add(temporal_dashboard.sessions, *f.at_risk_story(cid, eid))
    handle = await dev_client.start_workflow(
        ApprovalOnlyWorkflow.run,
        PendingDraft(client_id=cid, email_id=eid),
        id=client_workflow_id(cid),
        task_queue=worker.task_queue,
    )
    return Draft(cid, eid, handle)


async def _post(ui: Dashboard, path: str, data: dict[str, str], htmx: bool = True) -> tuple[int, str]:
    csrf = await ui.csrf("/ui/approvals")
    headers = {"HX-Request": "true"} if htmx else {}
    response = await ui.http.post(path, data={"csrf_token": csrf, **data}, headers=headers)
    return response.status_code, response.text


async def test_ui_approvals_approve_with_edit_goes_through_the_update(
    temporal_dashboard: Dashboard, draft: Draft
) -> None:
    status, html = await _post(
        temporal_dashboard,
        f"/ui/approvals/{draft.email_id}/approve",
        {
            "subject": "A new season of knitwear",
            "preheader": "New knitwear for the cold days",
            "body_text": "Hello Ada,\r\n\r\nIt has been a while. Our new knitwear is in.\r\n\r\nUnsubscribe: https://rekindle.localhost/u/x",
        },
    )
    assert status == 200
    assert 'data-outcome="ok"' in html
    assert "the email is now approved, scheduled for" in html
    decisions = await draft.handle.result()
    [approval] = decisions.approved
    # only the edited field travels; the unchanged ones stay None (nothing to re-check)
    assert approval.subject == "A new season of knitwear"
    assert approval.preheader is None
    assert approval.body_text is None
    assert approval.approved_by == "ops.alice"


async def test_ui_approvals_validator_refusal_is_shown(temporal_dashboard: Dashboard, draft: Draft) -> None:
    status, html = await _post(
        temporal_dashboard, f"/ui/approvals/{draft.email_id}/approve", {"subject": "Only $5 today"}
    )
    assert status == 200  # htmx swaps the card in place
    assert 'data-outcome="refused"' in html
    assert "The workflow refused: guardrail no_invented_prices: the subject mentions a price" in html
    # the draft is still pending: approving it as is works
    status, html = await _post(temporal_dashboard, f"/ui/approvals/{draft.email_id}/approve", {})
    assert 'data-outcome="ok"' in html
    assert (await draft.handle.result()).approved[0].subject is None


async def test_ui_approvals_reject_needs_a_reason(temporal_dashboard: Dashboard, draft: Draft) -> None:
    status, html = await _post(
        temporal_dashboard, f"/ui/approvals/{draft.email_id}/reject", {"reason": "  "}, htmx=False
    )
    assert status == 422
    assert "A reason is needed" in html
    status, html = await _post(
        temporal_dashboard, f"/ui/approvals/{draft.email_id}/reject", {"reason": "too pushy"}, htmx=False
    )
    assert status == 200
    assert "Rejected: the email is now rejected." in html
    [rejection] = (await draft.handle.result()).rejected
    assert rejection.reason == "too pushy"
    assert rejection.rejected_by == "ops.alice"


async def test_ui_approvals_stale_email_is_refused(temporal_dashboard: Dashboard, draft: Draft) -> None:
    other = unique_id("e")
    await f.add(temporal_dashboard.sessions, f.email_row(draft.client_id, other))
    status, html = await _post(temporal_dashboard, f"/ui/approvals/{other}/approve", {}, htmx=False)
    assert status == 409
    assert f"The workflow refused: email {other} is not the pending draft" in html


async def test_ui_approvals_without_workflow_says_so(temporal_dashboard: Dashboard) -> None:
    cid, eid = unique_id("c"), unique_id("e")
    await f.add(temporal_dashboard.sessions, *f.at_risk_story(cid, eid))
    status, html = await _post(temporal_dashboard, f"/ui/approvals/{eid}/approve", {}, htmx=False)
    assert status == 409
    assert "workflow is not running" in html


async def test_ui_approvals_unknown_email_is_404(temporal_dashboard: Dashboard) -> None:
    status, _ = await _post(temporal_dashboard, "/ui/approvals/e-nope/approve", {})
    assert status == 404


async def test_ui_approvals_bad_edit_is_422(temporal_dashboard: Dashboard, draft: Draft) -> None:
    status, html = await _post(
        temporal_dashboard, f"/ui/approvals/{draft.email_id}/approve", {"subject": "x" * 201}, htmx=False
    )
    assert status == 422
    assert "<strong>subject</strong>" in html


async def test_ui_client_state_shows_the_live_workflow(
    temporal_dashboard: Dashboard, dev_client: Client
) -> None:
    cid = unique_id("c")
    await f.add(temporal_dashboard.sessions, f.client_row(cid))
    missing = await temporal_dashboard.http.get(f"/ui/clients/{cid}/state", headers={"HX-Request": "true"})
    assert "No workflow for this client yet" in missing.text


async def test_ui_client_state_shows_live_fields(temporal_dashboard: Dashboard, draft: Draft) -> None:
    html = (await temporal_dashboard.http.get(f"/ui/clients/{draft.client_id}/state")).text
    assert "order count</dt><dd>6</dd>" in html
    assert "Live workflow state" in html  # a full page without htmx
