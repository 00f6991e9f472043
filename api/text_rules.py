"""Rules every text field the API stores must follow, whatever the database.

PostgreSQL text cannot hold NUL (U+0000): a profile or an order carrying one would be accepted
by SQLite and fail on PostgreSQL (a 500, or an activity retried for ever). The API refuses it
up front, naming the field.
"""

from __future__ import annotations

from typing import Any


def no_nul(value: Any) -> Any:
    """For ``field_validator("*")``: a string with a NUL character is refused."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    return value
