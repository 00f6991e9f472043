"""The live policy page: the current version, an admin's edit with a diff preview and a
confirmation, the past versions with what changed, and how many workflows have adopted it.

Editing is two steps so nothing is saved by accident: ``preview`` validates the edited
document and shows the diff; ``confirm`` saves it only if the policy is still the version the
diff was made against (someone else's save in between sends the admin back to review).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.service import RPCError

from api import policy_service
from api.ui.common import PostDep, Ui, UiDep, render, start_timer
from core.contracts.messages import CLIENT_WORKFLOW
from core.domain.policy_document import Policy, diff
from core.store.policy_store import policy_versions

router = APIRouter(prefix="/ui/policy", include_in_schema=False, dependencies=[Depends(start_timer)])
DocumentForm = Annotated[str, Form(max_length=50_000)]
COUNT_TIMEOUT_SECONDS = 2.0
HISTORY = 20


def pretty(policy: Policy) -> str:
    return json.dumps(policy.model_dump(mode="json"), indent=2)


async def _adoption(ui: Ui, version: int) -> dict[str, int] | None:
    """Running client workflows, and how many run this version (None if Temporal is away)."""
    running = f"WorkflowType = '{CLIENT_WORKFLOW}' AND ExecutionStatus = 'Running'"
    try:
        total, adopted = await asyncio.wait_for(
            asyncio.gather(
                ui.state.temporal.count_workflows(running),
                ui.state.temporal.count_workflows(f"{running} AND PolicyVersion >= {int(version)}"),
            ),
            COUNT_TIMEOUT_SECONDS,
        )
    except (RPCError, TimeoutError, RuntimeError):
        return None
    return {"running": total.count, "adopted": adopted.count}


async def _page(ui: Ui, request: Request, **extra: Any) -> HTMLResponse:
    stored = await policy_service.current(ui.state)
    async with ui.state.sessions() as session:
        history = await policy_versions(session, HISTORY)
    context = {
        "stored": stored,
        "document": pretty(stored.policy),
        "history": history,
        "admin": ui.can("admin"),
        "adoption": await _adoption(ui, stored.version),
        "saved": request.query_params.get("saved"),
        "errors": [],
        **extra,
    }
    status = 422 if context["errors"] else 200
    return render(request, "policy.html", context, ui.session, status=status)


@router.get("", response_class=HTMLResponse)
async def policy_page(request: Request, ui: UiDep) -> HTMLResponse:
    return await _page(ui, request)


def _admin(ui: Ui) -> None:
    if not ui.can("admin"):
        raise HTTPException(403, "only an admin may change the policy")


def _parse(document: str) -> tuple[Policy | None, list[tuple[str, str]]]:
    """The edited policy, or ``(field, reason)`` for each problem."""
    try:
        return Policy.model_validate_json(document), []
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "document"
            problems.append((field, str(e["msg"]).removeprefix("Value error, ")))
        return None, problems


@router.post("/preview", response_class=HTMLResponse)
async def preview(request: Request, ui: PostDep, document: DocumentForm) -> HTMLResponse:
    """Validate the edit and show what would change; nothing is saved yet."""
    _admin(ui)
    edited, errors = _parse(document)
    if edited is None:
        return await _page(ui, request, document=document, errors=errors)
    stored = await policy_service.current(ui.state)
    context = {
        "stored": stored,
        "changes": diff(stored.policy, edited),
        "document": pretty(edited),
    }
    return render(request, "policy_preview.html", context, ui.session)


@router.post("")
async def confirm(
    request: Request, ui: PostDep, document: DocumentForm, base_version: Annotated[int, Form(ge=1)]
) -> Response:
    """Save the previewed document as the next version and push it to running workflows."""
    _admin(ui)
    edited, errors = _parse(document)
    if edited is None:
        return await _page(ui, request, document=document, errors=errors)
    stored = await policy_service.current(ui.state)
    if stored.version != base_version:
        conflict = [("version", f"version {stored.version} was saved meanwhile; review the changes again")]
        return await _page(ui, request, document=document, errors=conflict)
    published = await policy_service.publish(ui.state, edited, f"ui:{ui.user}", ui.actor(request))
    return RedirectResponse(f"/ui/policy?saved={published.stored.version}", status_code=303)
