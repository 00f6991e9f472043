"""A test-only workflow that runs one activity by name, with the retry policy a test chooses.

Activities are started by workflows, so tests that need Temporal's real retry behaviour (and
the crash test) run the activity through this rather than calling it directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

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
