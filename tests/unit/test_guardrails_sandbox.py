"""The guardrails run inside the Temporal workflow sandbox (the approve_email validator's home)."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.fakes.workflows import DraftToCheck, GuardrailCheckWorkflow
from tests.helpers import new_worker, unique_id

pytestmark = pytest.mark.temporal


async def test_guardrails_run_in_the_workflow_sandbox(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client, workflows=[GuardrailCheckWorkflow]) as worker:
        failed = await time_env.client.execute_workflow(
            GuardrailCheckWorkflow.run,
            DraftToCheck(
                subject="Anna, 20% off",
                preheader="",
                body_text="Hi Anna,\n\nSee https://elsewhere.example.com for more.\n\nThe team",
                first_name="Anna",
                allowed_url_prefixes=["https://rekindle.example.com"],
            ),
            id=unique_id("wf-guard"),
            task_queue=worker.task_queue,
        )
    assert [f.split(":")[0] for f in failed] == ["no_unapproved_offer", "only_our_links"]
