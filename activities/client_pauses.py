"""The ``record_client_resume`` activity: the end of a timed ops pause, in the database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.contracts.ops import ACTIVITY_RESUME_CLIENT, RESUME_ACTOR, ResumeClientInput, ResumeClientResult
from core.store.audit import Actor
from core.store.db import transaction
from core.store.pauses import record_resume


class PauseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=ACTIVITY_RESUME_CLIENT)
    async def record_client_resume(self, input: ResumeClientInput) -> ResumeClientResult:
        """Lift the pause unless it was lifted meanwhile; a retry finds it lifted and says so."""
        async with transaction(self._sessions) as session:
            hold = await record_resume(session, input.client_id, Actor(RESUME_ACTOR, "system"))
            resumed = hold is not None and hold.resumed_by == RESUME_ACTOR
        return ResumeClientResult(resumed=resumed)
