"""Response models of ``GET /v1/audit`` (``api/routes/audit.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from core.store.ops_models import AuditEntry


class AuditOut(BaseModel):
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

    @classmethod
    def of(cls, row: AuditEntry) -> AuditOut:
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = None
