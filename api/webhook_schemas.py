"""Bodies and answers of the webhook endpoints API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.rows import RowOut
from api.text_rules import Timestamp
from core.runtime.webhook_urls import URL_PATTERN
from core.store.outbox import EventType


class EndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://crm.example.com/hooks/rekindle", "event_types": ["email.sent"]}]
        },
    )

    # Where it points is checked when registered (and again at delivery).
    url: str = Field(min_length=8, max_length=2048, json_schema_extra={"pattern": URL_PATTERN})
    event_types: list[EventType] = Field(min_length=1, max_length=8)
    description: str | None = Field(default=None, max_length=200)


class EndpointOut(RowOut):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None
    cursor: int


class EndpointCreated(EndpointOut):
    """The signing secret is shown here once; it cannot be read back."""

    secret: str


class EndpointPage(BaseModel):
    items: list[EndpointOut]


class DeliveryOut(RowOut):
    event_seq: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    first_attempt_at: datetime
    last_attempt_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Timestamp = Field(description="Send again every subscribed event that occurred since then")
