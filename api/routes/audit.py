"""The audit log (admin): who did what, when and from where, newest first, with filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api import examples, ops_examples
from api.audit_schemas import AuditOut, AuditPage
from api.auth import AdminKey
from api.deps import SessionDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES
from api.pagination import bad_cursor, decode_cursor, encode_cursor
from core.store.audit import AuditFilters, list_entries

router = APIRouter(prefix="/v1", tags=["audit"])
Text = Annotated[str | None, Query(max_length=128)]


@router.get(
    "/audit",
    responses={**AUTH_RESPONSES, **ERROR_RESPONSES, **examples.ok(ops_examples.AUDIT_PAGE)},
    summary="The audit log",
)
async def get_audit(
    session: SessionDep,
    _key: AdminKey,
    actor: Text = None,
    action: Text = None,
    target_id: Text = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|failed)$")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AuditPage:
    """Newest first; filters combine with AND; ``next_cursor`` continues."""
    before = None
    if cursor is not None:
        (raw,) = decode_cursor(cursor, 1)
        if not raw.isdigit():
            raise bad_cursor()
        before = int(raw)
    filters = AuditFilters(
        actor=actor, action=action, target_id=target_id, outcome=outcome, since=since, until=until
    )
    rows, next_id = await list_entries(session, filters, before, limit)
    return AuditPage(
        items=[AuditOut.of(r) for r in rows], next_cursor=encode_cursor(str(next_id)) if next_id else None
    )
