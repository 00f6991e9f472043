"""A stand-in client workflow that only follows the live policy: for rollout tests and the bench.

It adopts exactly as the client workflow does (the signal handler offers the carried policy to
a ``PolicyFollower``; the loop wakes, upserts ``PolicyVersion``/``ModelVersion``, sleeps again)
and leaves out everything else a client workflow does on a wake-up.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from core.contracts.policy import SIGNAL_POLICY_CHANGED, LivePolicy, PolicyChanged, PolicyFollower
    from core.domain.policy_document import Policy
    from core.domain.search_attributes import MODEL_VERSION, POLICY_VERSION

PROBE = "RolloutProbeWorkflow"
SLEEP = timedelta(days=180)


@workflow.defn(name=PROBE)
class RolloutProbeWorkflow:
    """Asleep until a newer policy arrives; adopts it as the client workflow does."""

    @workflow.init
    def __init__(self, live: LivePolicy) -> None:
        self._follower = PolicyFollower(live)
        self._wake = False

    @workflow.signal(name=SIGNAL_POLICY_CHANGED)
    def policy_changed(self, signal: PolicyChanged) -> None:
        if self._follower.offer(signal.policy, signal.model_version):
            self._wake = True

    @workflow.query(name="policy_version")
    def policy_version(self) -> int:
        return self._follower.version or 0

    @workflow.run
    async def run(self, live: LivePolicy) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=SLEEP)
            self._wake = False
            workflow.upsert_search_attributes(
                [
                    POLICY_VERSION.value_set(self._follower.version or 0),
                    MODEL_VERSION.value_set(self._follower.model_version),
                ]
            )


def live(version: int, **changes: object) -> LivePolicy:
    """A policy version for tests: the defaults with ``changes``."""
    return LivePolicy(version=version, document={**Policy().model_dump(mode="json"), **changes})


def start_attributes(policy_version: int = 1, model_version: int = 0) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(POLICY_VERSION, policy_version),
            SearchAttributePair(MODEL_VERSION, model_version),
        ]
    )
