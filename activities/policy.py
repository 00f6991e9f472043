"""The live policy for workflows: ``load_policy`` (a run's first look) and ``push_rollout``
(after a refit stored a new model version, re-plan every sleeping client)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.contracts.policy import (
    ACTIVITY_LOAD_POLICY,
    ACTIVITY_PUSH_ROLLOUT,
    LivePolicy,
    LoadPolicyInput,
    LoadPolicyResult,
    PushRolloutInput,
    PushRolloutResult,
)
from core.runtime.rollout import push_versions
from core.runtime.settings import Settings
from core.store.model_store import latest_parameters
from core.store.policy_store import current_policy, policy_from_settings


class PolicyActivities:
    """Built with the session factory and settings (whose policy seeds version 1)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._seed = policy_from_settings(settings.policy)
        self._unit = settings.scoring.unit
        self._task_queue = settings.temporal.task_queue

    async def _current(self) -> tuple[LoadPolicyResult, int]:
        stored = await current_policy(self._sessions, self._seed)
        async with self._sessions() as session:
            model = await latest_parameters(session, self._unit)
        live = LivePolicy(version=stored.version, document=stored.policy.model_dump(mode="json"))
        return LoadPolicyResult(policy=live, model_version=model.version), int(stored.updated_at.timestamp())

    @activity.defn(name=ACTIVITY_LOAD_POLICY)
    async def load_policy(self, _input: LoadPolicyInput) -> LoadPolicyResult:
        """The current policy and the newest model version (read-only but for the seed)."""
        return (await self._current())[0]

    @activity.defn(name=ACTIVITY_PUSH_ROLLOUT)
    async def push_rollout(self, _input: PushRolloutInput) -> PushRolloutResult:
        """Start the batch signal for the current versions (idempotent: see core.runtime.rollout)."""
        current, stamp = await self._current()
        rollout = await push_versions(
            activity.client(), current.policy, current.model_version, stamp=stamp, task_queue=self._task_queue
        )
        return PushRolloutResult(job_id=rollout.job_id, outcome=rollout.outcome)
