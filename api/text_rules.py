"""Rules the API's request fields follow beyond their Python types, so that what the OpenAPI
document says a field takes is what the API takes (no more, no less).

- PostgreSQL text cannot hold NUL (U+0000): a profile or an order carrying one would be
  accepted by SQLite and fail on PostgreSQL (a 500, or an activity retried for ever). The API
  refuses it up front, naming the field.
- A date-time is an RFC 3339 string with an offset, as documented: pydantic alone would also
  take a number (seconds since 1970), which the schema does not allow.
- A time zone is one of the IANA names this machine's zone database holds; the document lists
  them, so a client can tell a valid name from an invalid one before it calls.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AwareDatetime, BeforeValidator, Field


def no_nul(value: Any) -> Any:
    """For ``field_validator("*")``: a string with a NUL character is refused."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    return value


def _date_time_text(value: Any) -> Any:
    if isinstance(value, (int, float)):  # bool too
        raise ValueError("an RFC 3339 date-time string with an offset is needed, not a number")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
"""A request's date-time: an RFC 3339 string with an offset (``2026-01-05T10:00:00Z``)."""


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zone names the API accepts, sorted: the zone database's, less ``localtime`` (a
    link to this machine's own zone) and ``Factory`` (tzdata's "no zone set" placeholder)."""
    return tuple(sorted(available_timezones() - {"localtime", "Factory"}))


@cache
def _zone_set() -> frozenset[str]:
    return frozenset(time_zone_names())


def _known_zone(value: Any) -> Any:
    if isinstance(value, str) and value not in _zone_set():
        raise ValueError(f"unknown IANA time zone {value[:64]!r}")
    return value


def _list_zones(schema: dict[str, Any]) -> None:
    schema["enum"] = list(time_zone_names())


TimeZoneName = Annotated[
    str, BeforeValidator(_known_zone), Field(max_length=64, json_schema_extra=_list_zones)
]
"""A request's time zone: an IANA name such as ``Europe/Stockholm``."""
