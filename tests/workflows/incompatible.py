"""A deliberately incompatible version of the client workflow, for the replay test.

Kept in its own module: the workflow sandbox re-imports the module a workflow class is
defined in, so it must import nothing but workflow-safe code.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from core.contracts.messages import CLIENT_WORKFLOW
from core.contracts.state import ClientWorkflowInput
from workflows.client import ClientEngagementWorkflow


@workflow.defn(name=CLIENT_WORKFLOW)
class ReorderedClientWorkflow(ClientEngagementWorkflow):
    """A careless change: a short pause before the loop starts (a new timer command)."""

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super().run(input)


@workflow.defn(name=CLIENT_WORKFLOW)
class PatchedClientWorkflow(ClientEngagementWorkflow):
    """The same change done right: old histories take the old path, new runs the new one.

    Once ``rekindle replay --query`` finds no running workflow without the patch marker
    (every run has continued as new or ended since the deploy), the next deploy turns
    ``patched`` into ``workflow.deprecate_patch("pause-before-loop")`` and the sleep
    becomes unconditional; the deploy after that removes the ``deprecate_patch`` call.
    """

    @workflow.run
    async def run(self, input: ClientWorkflowInput) -> None:
        if workflow.patched("pause-before-loop"):
            await workflow.sleep(timedelta(seconds=1))
        await super().run(input)
