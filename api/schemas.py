"""Request and response models of the client and email routes (what the OpenAPI schema promises)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.batches import KeepInvalid
from api.errors import FieldError
from api.rows import RowOut
from api.text_rules import TimeZoneName, no_nul
from core.contracts.consent import ProfileUpdated
from core.contracts.messages import ClientId, ShortText
from core.domain.money import from_minor
from core.runtime.client_workflow import LiveStateReason
from core.store.models import Client, Email, EmailEvent

PROFILE_BATCH_MAX = 1000


class ClientProfileIn(ProfileUpdated):
    """``PUT /v1/clients/{id}``: fields left out (or null) keep their current value."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "anna@example.com",
                    "first_name": "Anna",
                    "last_name": "Berg",
                    "time_zone": "Europe/Stockholm",
                    "locale": "sv-SE",
                    "style_notes": "Prefers merino; no hard sell.",
                }
            ]
        },
    )

    time_zone: TimeZoneName | None = None

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


class Profile(RowOut):
    email: str | None
    first_name: str | None
    last_name: str | None
    time_zone: str | None
    locale: str | None
    style_notes: str | None


class ClientSummary(RowOut):
    client_id: str
    order_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    total_spend: Decimal | None
    currency: str | None
    score: float | None
    tier: str | None
    segment: str | None
    holdout: bool
    unsubscribed_at: datetime | None

    @classmethod
    def of(cls, row: Client, **values: Any) -> Self:
        spend = from_minor(row.total_spend_minor, row.currency) if row.currency else None
        return super().of(row, client_id=row.id, total_spend=spend, **values)


class ClientPage(BaseModel):
    items: list[ClientSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class ProfileAccepted(BaseModel):
    client_id: str
    workflow_id: str
    changed: bool = Field(description="Whether the stored profile changed")
    status: str = "accepted"


class BatchProfile(ClientProfileIn):
    """One client of ``POST /v1/clients:batch``: the profile's fields plus the client's id."""

    client_id: ClientId


class ProfileBatch(BaseModel):
    clients: list[Annotated[BatchProfile, KeepInvalid]] = Field(min_length=1, max_length=PROFILE_BATCH_MAX)


class ProfileItemResult(BaseModel):
    index: int
    client_id: str | None = None
    status: Literal["accepted", "invalid", "unavailable"]
    changed: bool | None = Field(default=None, description="Accepted: whether the stored profile changed")
    errors: list[FieldError] = []


class ProfileBatchResult(BaseModel):
    accepted: int
    invalid: int
    unavailable: int
    results: list[ProfileItemResult]


class ScorePoint(RowOut):
    scored_at: datetime
    score: float
    tier: str
    segment: str | None
    p_alive: float | None
    p_order_again: float | None
    expected_orders: float | None
    expected_value: float | None
    reasons: list[Any]
    model_version: int | None


class EmailSummary(RowOut):
    email_id: str
    client_id: str
    status: str
    subject: str | None
    holdout: bool
    created_at: datetime
    scheduled_for: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Email, **values: Any) -> Self:
        return super().of(row, email_id=row.id, **values)


class ClientDetail(ClientSummary):
    profile: Profile
    scores: list[ScorePoint] = Field(description="Score history, newest first (at most 100)")
    emails: list[EmailSummary] = Field(description="Emails, newest first (at most 50)")
    live_state: dict[str, Any] | None = Field(
        description="The workflow's `state` query, or null when it could not be read"
    )
    live_state_reason: LiveStateReason | None = Field(default=None, description="Why `live_state` is null")


class EmailPage(BaseModel):
    items: list[EmailSummary]
    next_cursor: str | None


class Draft(RowOut):
    subject: str | None
    preheader: str | None
    body_text: str | None
    body_html: str | None
    generator: str | None
    model: str | None
    prompt_version: str | None


class Delivery(RowOut):
    to_address: str | None
    scheduled_for: datetime | None
    sending_at: datetime | None
    sent_at: datetime | None
    message_id: str | None
    failure_reason: str | None


class EmailEventOut(RowOut):
    kind: str
    at: datetime
    actor: str | None
    detail: dict[str, Any] | None


class EmailDetail(EmailSummary):
    draft: Draft
    guardrails: Any = Field(description="The guardrail verdicts recorded with the draft")
    approved_by: str | None
    approved_at: datetime | None
    rejected_reason: str | None
    delivery: Delivery
    events: list[EmailEventOut] = Field(description="The email's timeline, oldest first")

    @classmethod
    def build(cls, row: Email, events: list[EmailEvent]) -> EmailDetail:
        return cls.of(
            row,
            draft=Draft.of(row),
            delivery=Delivery.of(row),
            events=[EmailEventOut.of(e) for e in events],
        )


class ApproveIn(BaseModel):
    """Approve the pending draft, optionally with edits (re-checked by the guardrails)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"approved_by": "maria", "subject": "We saved your size"}]},
    )

    approved_by: ShortText | None = Field(default=None, description="Defaults to the API key's name")
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    preheader: str | None = Field(default=None, max_length=200)
    body_text: str | None = Field(default=None, min_length=1, max_length=10_000)


class RejectIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Tone is off for this client", "rejected_by": "maria"}]},
    )

    reason: str = Field(min_length=1, max_length=1000)
    rejected_by: ShortText | None = Field(default=None, description="Defaults to the API key's name")


class DecisionOut(BaseModel):
    email_id: str
    status: str
    scheduled_for: datetime | None = None
