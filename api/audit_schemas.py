"""Response models of ``GET /v1/audit`` (``api/routes/audit.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.rows import RowOut


class AuditOut(RowOut):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    source: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = None
