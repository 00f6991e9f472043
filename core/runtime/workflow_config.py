"""The policy snapshot each client workflow starts with, built from settings."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.contracts.state import WorkflowConfig
from core.domain.policy import in_holdout
from core.domain.search_attributes import HOLDOUT_GROUP
from core.runtime.settings import PolicySettings, Settings, TemporalSettings


def workflow_config(
    policy: PolicySettings, temporal: TemporalSettings | None = None, public_base_url: str | None = None
) -> WorkflowConfig:
    """``WorkflowConfig`` from the policy settings; task queues for drafting and sending from
    the Temporal settings (``None``: those activities run on the workflow's own queue)."""
    return WorkflowConfig(
        auto_approve=policy.auto_approve,
        approval_expiry_hours=policy.approval_expiry_hours,
        frequency_cap_days=policy.frequency_cap_days,
        quiet_hours_start=policy.quiet_hours_start,
        quiet_hours_end=policy.quiet_hours_end,
        holdout_fraction=policy.holdout_fraction,
        cool_down_days=policy.cool_down_days,
        horizon_days=policy.horizon_days,
        default_time_zone=policy.default_time_zone,
        llm_task_queue=temporal.llm_task_queue if temporal else None,
        send_task_queue=temporal.send_task_queue if temporal else None,
        offer=policy.offer,
        public_base_url=public_base_url,
    )


def initial_search_attributes(client_id: str, config: WorkflowConfig) -> TypedSearchAttributes:
    """Set at start so ops can filter the control group before the first workflow task."""
    return _holdout_attributes(in_holdout(client_id, config.holdout_fraction))


def _holdout_attributes(holdout: bool) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(HOLDOUT_GROUP, holdout)])


@dataclass(frozen=True)
class WorkflowStart:
    """What every signal-with-start to a client workflow carries besides the client and the signal.

    Built once from the settings (the API's lifespan, the importer) rather than per call:
    the config snapshot is the same for every client, and so is each of the two possible
    sets of initial search attributes.
    """

    config: WorkflowConfig
    task_queue: str
    holdout_attributes: TypedSearchAttributes
    treated_attributes: TypedSearchAttributes

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkflowStart:
        return cls(
            config=workflow_config(settings.policy, settings.temporal, settings.api.public_base_url),
            task_queue=settings.temporal.task_queue,
            holdout_attributes=_holdout_attributes(True),
            treated_attributes=_holdout_attributes(False),
        )

    def search_attributes(self, client_id: str) -> TypedSearchAttributes:
        """The same attributes as ``initial_search_attributes(client_id, self.config)``."""
        if in_holdout(client_id, self.config.holdout_fraction):
            return self.holdout_attributes
        return self.treated_attributes
