"""``load_policy`` for workflow scenarios: each client's policy is what its test says.

By default a client's live policy is the legacy one made from the ``WorkflowConfig`` its
workflow started with (``workflows.campaign.legacy_policy``), so scenarios written against a
config keep their meaning; a scenario about the live policy sets ``policies[client_id]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from core.contracts.policy import ACTIVITY_LOAD_POLICY, LivePolicy, LoadPolicyInput, LoadPolicyResult
from core.contracts.state import WorkflowConfig
from core.domain.policy_document import Policy
from workflows.campaign import legacy_policy


@dataclass
class PolicyDouble:
    configs: dict[str, WorkflowConfig] = field(default_factory=dict)
    policies: dict[str, LivePolicy] = field(default_factory=dict)
    model_version: int = 0
    loads: list[str] = field(default_factory=list)

    def live(self, client_id: str) -> LivePolicy:
        if client_id in self.policies:
            return self.policies[client_id]
        policy = legacy_policy(self.configs.get(client_id, WorkflowConfig()))
        return LivePolicy(version=1, document=policy.model_dump(mode="json"))

    def set(self, client_id: str, version: int, policy: Policy) -> LivePolicy:
        live = LivePolicy(version=version, document=policy.model_dump(mode="json"))
        self.policies[client_id] = live
        return live

    @activity.defn(name=ACTIVITY_LOAD_POLICY)
    async def load_policy(self, input: LoadPolicyInput) -> LoadPolicyResult:
        self.loads.append(input.client_id)
        return LoadPolicyResult(policy=self.live(input.client_id), model_version=self.model_version)
