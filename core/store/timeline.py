"""An email's timeline (``email_events``): the one writer.

Activities (drafted, approved, sent, ...), the API (ops' resolve, imported history) and
delivery feedback (bounces, complaints) all append here. An event is keyed by (email, kind,
time): writing the same event again, as a retried activity or a repeated webhook does,
changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.store.db import insert_ignoring_conflicts
from core.store.models import EmailEvent

KEY = ["email_id", "kind", "at"]


@dataclass(frozen=True)
class TimelineEvent:
    email_id: str
    client_id: str
    kind: str
    at: datetime
    actor: str | None = None  # who or what: an ops user, an activity, "feedback:ses"; None: unknown
    detail: dict[str, Any] | None = None


async def record(session: AsyncSession, *events: TimelineEvent) -> None:
    """Append the events (in the caller's transaction); ones already there are left alone."""
    if events:
        dialect = session.get_bind().dialect.name
        rows = [asdict(event) for event in events]
        await session.execute(insert_ignoring_conflicts(dialect, EmailEvent.__table__, rows, KEY))
