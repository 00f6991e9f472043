"""Bodies and answers of the ops actions on clients and emails."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.text_rules import Timestamp


class PauseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"until": "2027-01-15T09:00:00Z", "reason": "asked by phone"}]},
    )

    until: Timestamp | None = Field(default=None, description="Resume by itself then (future)")
    reason: str = Field(default="", max_length=500)


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "asked by phone on 2 Dec"}]}
    )

    reason: str = Field(min_length=1, max_length=500)


class ClientActionOut(BaseModel):
    """The client's consent state after the action; ``changed`` is false for a repeat."""

    client_id: str
    action: Literal["pause", "resume", "unsubscribe"]
    changed: bool
    paused: bool
    paused_until: datetime | None = None
    unsubscribed: bool


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="cancelled by ops", min_length=1, max_length=500)


class ResolveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"outcome": "sent", "note": "in the SMTP log"}]}
    )

    outcome: Literal["sent", "not_sent"]
    note: str = Field(default="", max_length=500)


class EmailActionOut(BaseModel):
    email_id: str
    action: Literal["cancel", "resolve"]
    changed: bool
    status: str
