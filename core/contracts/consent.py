"""Profile and consent signals of the client workflow."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, StringConstraints, field_validator

from core.contracts.messages import Frozen

EMAIL_PATTERN = r"^[^@\s<>\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"


class ProfileUpdated(Frozen):
    """Signal ``profile_updated``: fields left ``None`` are unchanged."""

    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)] | None = None
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None
    style_notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Unsubscribed(Frozen):
    """Signal ``unsubscribed``: consent withdrawn; any pending email is cancelled at once."""

    at: AwareDatetime
    source: Literal["link", "one_click", "mailto", "api", "bounce", "ops"] = "link"


class Paused(Frozen):
    """Signal ``paused``: no drafting or sending until ``resumed``."""

    reason: Annotated[str, StringConstraints(max_length=500)] = ""
    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Resumed(Frozen):
    """Signal ``resumed``."""

    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Snoozed(Frozen):
    """Signal ``snoozed``: the client asked for a break; nothing is drafted or sent until ``until``."""

    until: AwareDatetime
    source: Annotated[str, StringConstraints(max_length=32)] = "preferences"


class EmailResolved(Frozen):
    """Signal ``email_resolved``: a person settled an ``unknown`` email as ``sent`` or ``failed``
    (not sent) in the database; the workflow's record of its last email follows. The frequency
    cap keeps counting it either way (the conservative reading)."""

    email_id: Annotated[str, StringConstraints(max_length=64)]
    status: Literal["sent", "failed"]
    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Resubscribed(Frozen):
    """Signal ``resubscribed``: consent given again after an opt-out made before ``at``.

    A bounced address stays blocked: only a working address can be emailed.
    """

    at: AwareDatetime
    source: Annotated[str, StringConstraints(max_length=32)] = "preferences"


class PastEmailSent(Frozen):
    """Signal ``past_email_sent``: a re-engagement email sent before Rekindle (an import).

    The frequency cap counts it: the workflow's last send moves to ``sent_at`` if that is
    later, never back. No email id or content: the workflow needs only the moment.
    """

    sent_at: AwareDatetime
