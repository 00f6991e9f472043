"""A client's profile, stored in the read model and told to the client's workflow.

One way for every writer: ``PUT /v1/clients/{id}``, its batch, the dashboard's add-client form
and ``rekindle import --profiles``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client as TemporalClient

from core.contracts.consent import ProfileUpdated
from core.contracts.messages import SIGNAL_PROFILE_UPDATED
from core.domain.policy import in_holdout
from core.runtime.client_workflow import signal_with_start
from core.runtime.workflow_config import WorkflowStart
from core.store.clients import client_row
from core.store.db import transaction, utcnow
from core.store.models import Client


def apply_profile(client: Client, profile: ProfileUpdated) -> bool:
    """Copy the fields the profile sets; ``True`` if anything changed."""
    changed = False
    for name, value in profile.model_dump(exclude_none=True).items():
        if getattr(client, name) != value:
            setattr(client, name, value)
            changed = True
    if changed:
        client.updated_at = utcnow()
    return changed


async def upsert_profile(
    temporal: TemporalClient,
    start: WorkflowStart,
    sessions: async_sessionmaker[AsyncSession],
    client_id: str,
    update: ProfileUpdated,
) -> tuple[str, bool]:
    """Tell the client's workflow (starting it), then store the profile; the workflow id and
    whether anything changed. Temporal first: if it refuses (``TemporalUnavailable``), nothing
    is stored."""
    workflow_id = await tell_profile(temporal, start, client_id, update)
    (changed,) = await store_profiles(sessions, start, [(client_id, update)])
    return workflow_id, changed


async def tell_profile(
    temporal: TemporalClient, start: WorkflowStart, client_id: str, update: ProfileUpdated
) -> str:
    """Signal the profile to the client's workflow, starting it if needed; its workflow id."""
    return await signal_with_start(temporal, start, client_id, SIGNAL_PROFILE_UPDATED, update)


async def store_profiles(
    sessions: async_sessionmaker[AsyncSession],
    start: WorkflowStart,
    profiles: Sequence[tuple[str, ProfileUpdated]],
) -> list[bool]:
    """Store profiles the workflows were told of, in order, in one transaction (a batch of
    1,000 is one commit, not 1,000); whether each changed anything."""
    changed = []
    async with transaction(sessions) as session:
        for client_id, update in profiles:
            # The client's arm is stored from the first write, so ops can list the control group.
            holdout = in_holdout(client_id, start.config.holdout_fraction)
            changed.append(apply_profile(await client_row(session, client_id, holdout), update))
    return changed
