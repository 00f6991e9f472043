"""A test-only workflow that runs one activity by name, with the retry policy a test chooses.

Activities are started by workflows, so tests that need Temporal's real retry behaviour (and
the crash test) run the activity through this rather than calling it directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

# Imported normally, not passed through: the sandbox re-runs the module, proving it is pure.
from core.domain.guardrails import check_draft, failures

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel


class ActivityCall(BaseModel):
    activity: str
    task_queue: str
    input: dict[str, Any]
    start_to_close_seconds: float = 30.0
    heartbeat_seconds: float | None = None
    maximum_attempts: int = 5
    initial_interval_seconds: float = 0.1


@workflow.defn(name="TestActivityCall")
class ActivityCallWorkflow:
    """Runs ``call.activity`` on ``call.task_queue`` once (with retries) and returns its result."""

    @workflow.run
    async def run(self, call: ActivityCall) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            call.activity,
            call.input,
            task_queue=call.task_queue,
            result_type=dict,
            start_to_close_timeout=timedelta(seconds=call.start_to_close_seconds),
            heartbeat_timeout=timedelta(seconds=call.heartbeat_seconds) if call.heartbeat_seconds else None,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=call.initial_interval_seconds),
                backoff_coefficient=1.0,
                maximum_attempts=call.maximum_attempts,
            ),
        )
        return result


class DraftToCheck(BaseModel):
    subject: str
    preheader: str
    body_text: str
    first_name: str | None = None
    offer: str | None = None
    allowed_url_prefixes: list[str] = []


@workflow.defn(name="TestGuardrailCheck", sandboxed=True)
class GuardrailCheckWorkflow:
    """Runs the guardrails inside the workflow sandbox, as the approve_email validator does."""

    @workflow.run
    async def run(self, draft: DraftToCheck) -> list[str]:
        verdicts = check_draft(
            draft.subject,
            draft.preheader,
            draft.body_text,
            first_name=draft.first_name,
            allowed_offer=draft.offer,
            allowed_url_prefixes=draft.allowed_url_prefixes,
        )
        return failures(verdicts)
