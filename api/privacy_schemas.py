"""Response models of a client's export and erasure (``api/routes/privacy.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.runtime.client_workflow import LiveStateReason


class ClientExport(BaseModel):
    """Everything about one client: the database's rows and the workflow's live state."""

    client_id: str
    exported_at: datetime
    profile: dict[str, Any] | None = Field(description="The client row, every column")
    orders: list[dict[str, Any]]
    scores: list[dict[str, Any]] = Field(description="Score history, oldest first")
    emails: list[dict[str, Any]] = Field(description="Every email, each with its `events` timeline")
    suppressions: list[dict[str, Any]] = Field(description="Suppressions of the client or their address")
    activity: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Delivery feedback, consent changes, pauses, events for integrators, audit entries",
    )
    live_state: dict[str, Any] | None = Field(description="The workflow's `state` query")
    live_state_reason: LiveStateReason | None = None


class ErasureReceipt(BaseModel):
    """What an erasure did; the same request again finds nothing left and changes nothing."""

    client_id: str
    workflow: Literal["terminated", "not_running"]
    data_key_destroyed: bool = Field(description="Their Temporal history can no longer be decoded")
    rows_deleted: dict[str, int] = Field(description="Rows removed, by table")
    hashed_suppressions: int = Field(description="Addresses kept only as a keyed hash, never emailed again")
