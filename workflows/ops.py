"""Two small workflows around the client's own: a pause's timed resume, and webhook delivery.

``ClientResumeTimerWorkflow`` (id ``pause-timer-{client_id}``) sleeps until the end of an
ops pause, signals ``resumed`` to the client's workflow and records the resume. A new pause
or a manual resume replaces or ends it, so the client workflow needs no timer of its own.

``WebhookDeliveryWorkflow`` (id ``webhook-{endpoint_id}``, on the webhook task queue) drains
the outbox for one endpoint, in order. Each pass is one heartbeating activity that delivers
whatever is new and waits for more for a while; a refused delivery fails the activity, and
Temporal's retry policy backs off (1 s doubling up to the configured maximum, forever) with
no event in history per attempt. A dead endpoint therefore costs its own workflow a retry
timer and nothing else: client workflows only ever wrote a row. The loop ends when the
endpoint is disabled, and continues as new after a bounded number of passes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts.consent import Resumed
    from core.contracts.messages import SIGNAL_RESUMED, client_workflow_id
    from core.contracts.ops import (
        ACTIVITY_DELIVER_WEBHOOKS,
        ACTIVITY_RESUME_CLIENT,
        RESUME_ACTOR,
        RESUME_TIMER_WORKFLOW,
        WEBHOOK_WORKFLOW,
        DeliverWebhooksInput,
        DeliverWebhooksResult,
        ResumeAt,
        ResumeClientInput,
        ResumeClientResult,
        WebhookDeliveryInput,
    )

DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
PASSES_PER_RUN = 100
# A pass delivers and waits for new events for about a minute, heartbeating (see activities).
PASS_TIMEOUT = timedelta(minutes=3)
PASS_HEARTBEAT = timedelta(seconds=30)


@workflow.defn(name=RESUME_TIMER_WORKFLOW)
class ClientResumeTimerWorkflow:
    """Waits for the end of one ops pause, then resumes the client."""

    @workflow.run
    async def run(self, input: ResumeAt) -> None:
        delay = input.until - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay, summary=f"pause ends at {input.until:%Y-%m-%d %H:%M} UTC")
        result: ResumeClientResult = await workflow.execute_activity(
            ACTIVITY_RESUME_CLIENT,
            ResumeClientInput(client_id=input.client_id),
            result_type=ResumeClientResult,
            summary="resume the client",
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )
        if not result.resumed:
            return  # lifted by hand meanwhile
        handle = workflow.get_external_workflow_handle(client_workflow_id(input.client_id))
        try:
            await handle.signal(SIGNAL_RESUMED, Resumed(by=RESUME_ACTOR))
        except Exception:  # the client's workflow is not running (terminated): nothing to resume
            workflow.logger.warning("client workflow not running; nothing to resume")


@workflow.defn(name=WEBHOOK_WORKFLOW)
class WebhookDeliveryWorkflow:
    """Delivers one endpoint's events, in order, at least once, until it is disabled."""

    @workflow.run
    async def run(self, input: WebhookDeliveryInput) -> None:
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=input.max_retry_interval_seconds),
        )
        for _ in range(PASSES_PER_RUN):
            result: DeliverWebhooksResult = await workflow.execute_activity(
                ACTIVITY_DELIVER_WEBHOOKS,
                DeliverWebhooksInput(endpoint_id=input.endpoint_id),
                result_type=DeliverWebhooksResult,
                start_to_close_timeout=PASS_TIMEOUT,
                heartbeat_timeout=PASS_HEARTBEAT,
                retry_policy=retry,
            )
            if result.disabled:
                return
        workflow.continue_as_new(input)
