"""Saving a policy version and pushing it to running workflows: shared by the API and the dashboard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from temporalio.service import RPCError

from api.deps import AppState
from core.contracts.policy import LivePolicy
from core.domain.policy_document import Policy
from core.runtime.logging import get_logger
from core.runtime.rollout import job_id, push_versions
from core.store import audit
from core.store.model_store import latest_parameters
from core.store.policy_store import StoredPolicy, current_policy, policy_from_settings, save_policy

log = get_logger(__name__)
PUSH_TIMEOUT_SECONDS = 10.0
RolloutStatus = Literal["started", "already_started", "unavailable"]


@dataclass(frozen=True)
class Published:
    stored: StoredPolicy
    changed: bool
    rollout_job: str
    rollout_status: RolloutStatus


async def current(state: AppState) -> StoredPolicy:
    """The live policy (settings seed version 1 the first time)."""
    return await current_policy(state.sessions, policy_from_settings(state.settings.policy))


async def publish(state: AppState, policy: Policy, by: str, actor: audit.Actor) -> Published:
    """Store ``policy`` (unless identical to the newest) and push the newest version to running
    workflows. Pushing again for an unchanged document is harmless (the rollout is idempotent)
    and is how a push that found Temporal unreachable is completed."""
    await current(state)  # version 1 from settings first, so an edit is version 2 with its diff
    stored, changed = await save_policy(state.sessions, policy, by)
    if changed:
        await audit.record(
            state.sessions,
            actor,
            "policy.update",
            target_type="policy",
            target_id=str(stored.version),
            detail={"changes": len(stored.changes or [])},
        )
    async with state.sessions() as session:
        model_version = (await latest_parameters(session, state.settings.scoring.unit)).version
    live = LivePolicy(version=stored.version, document=stored.policy.model_dump(mode="json"))
    stamp = int(stored.updated_at.timestamp())
    job = job_id(stored.version, model_version, stamp)
    try:
        rollout = await asyncio.wait_for(
            push_versions(
                state.temporal,
                live,
                model_version,
                stamp=stamp,
                task_queue=state.settings.temporal.task_queue,
            ),
            PUSH_TIMEOUT_SECONDS,
        )
    except (RPCError, TimeoutError, RuntimeError) as exc:
        status = exc.status.name if isinstance(exc, RPCError) else type(exc).__name__
        log.warning(
            "policy rollout not started", version=stored.version, status=status, detail=str(exc)[:200]
        )
        return Published(stored, changed, job, "unavailable")
    return Published(stored, changed, rollout.job_id, rollout.outcome)
