"""Request and response models of ``POST /v1/emails:import`` (past win-back emails)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from api.batches import KeepInvalid
from api.errors import FieldError
from api.store import IMPORT_GENERATOR
from api.text_rules import Timestamp
from core.contracts.messages import ClientId
from core.domain.text import NOT_BLANK_SCHEMA
from core.store.db import utcnow
from core.store.models import Email

IMPORT_MAX = 1000
EMAIL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
STATUS_OF_ARM = {"emailed": "sent", "holdout": "holdout"}
ItemStatus = Literal["imported", "unchanged", "conflict", "unknown_client", "invalid", "unavailable"]
STATUSES: tuple[ItemStatus, ...] = (
    "imported",
    "unchanged",
    "conflict",
    "unknown_client",
    "invalid",
    "unavailable",
)

IMPORT_EXAMPLE = {
    "emails": [
        {
            "email_id": "mc-2025-10-winback-c-1001",
            "client_id": "c-1001",
            "arm": "emailed",
            "drafted_at": "2025-10-02T07:30:00Z",
            "sent_at": "2025-10-02T09:00:00Z",
            "subject": "We saved your size",
        },
        {
            "email_id": "mc-2025-10-winback-c-1002",
            "client_id": "c-1002",
            "arm": "holdout",
            "drafted_at": "2025-10-02T07:30:00Z",
        },
    ]
}


class ImportedEmail(BaseModel):
    """One past email: ``sent_at`` is required for the emailed arm and forbidden for holdout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email_id: Annotated[str, StringConstraints(pattern=EMAIL_ID_PATTERN)]
    client_id: ClientId
    arm: Literal["emailed", "holdout"]
    drafted_at: Timestamp
    sent_at: Timestamp | None = Field(default=None, validate_default=True)
    subject: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), NOT_BLANK_SCHEMA
        ]
        | None
    ) = None

    @field_validator("drafted_at")
    @classmethod
    def _drafted_in_the_past(cls, value: datetime) -> datetime:
        if value > utcnow():
            raise ValueError("must be in the past")
        return value

    @field_validator("sent_at")
    @classmethod
    def _sent_matches_the_arm(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        arm, drafted_at = info.data.get("arm"), info.data.get("drafted_at")
        if arm == "holdout" and value is not None:
            raise ValueError("must be left out for the holdout arm: a held-out email was never sent")
        if arm == "emailed" and value is None:
            raise ValueError("is required for the emailed arm")
        if value is not None and value > utcnow():
            raise ValueError("must be in the past")
        if value is not None and drafted_at is not None and value < drafted_at:
            raise ValueError("must not be before drafted_at")
        return value

    @property
    def status(self) -> str:
        return STATUS_OF_ARM[self.arm]

    def matches(self, row: Email) -> bool:
        """The stored row says the same (times compared as instants)."""
        return (
            row.generator == IMPORT_GENERATOR
            and row.client_id == self.client_id
            and row.status == self.status
            and row.created_at == self.drafted_at
            and row.sent_at == self.sent_at
            and row.subject == self.subject
        )


class ImportBatch(BaseModel):
    emails: list[Annotated[ImportedEmail, KeepInvalid]] = Field(min_length=1, max_length=IMPORT_MAX)


class ImportItemResult(BaseModel):
    index: int
    email_id: str | None = None
    client_id: str | None = None
    status: ItemStatus
    errors: list[FieldError] = []


class ImportResult(BaseModel):
    imported: int
    unchanged: int
    conflict: int
    unknown_client: int
    invalid: int
    unavailable: int
    results: list[ImportItemResult]
