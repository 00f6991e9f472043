"""The client workflow's activity calls, each with its timeouts and retry policy.

Database activities retry until the database is back (they are idempotent);
drafting and sending are bounded, because a stuck LLM or SMTP provider must not
hold a client's pipeline forever: the workflow reschedules or records instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts.emails import (
        DraftEmailInput,
        DraftEmailResult,
        EmailStatus,
        SendEmailInput,
        SendEmailResult,
        UpdateEmailInput,
        UpdateEmailResult,
    )
    from core.contracts.messages import (
        ACTIVITY_DRAFT_EMAIL,
        ACTIVITY_LOAD_CLIENT,
        ACTIVITY_RECORD_ORDER,
        ACTIVITY_RECORD_ORDERS,
        ACTIVITY_RESCORE,
        ACTIVITY_SEND_EMAIL,
        ACTIVITY_UPDATE_EMAIL,
        RecordOrderInput,
        RecordOrderResult,
        RecordOrdersInput,
        RecordOrdersResult,
    )
    from core.contracts.scoring import RescoreInput, RescoreResult
    from core.contracts.state import ClientFacts, LoadClientInput

R = TypeVar("R")

DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DRAFT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2), maximum_attempts=6
)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=10
)


async def _database(activity: str, input: object, result_type: type[R], summary: str) -> R:
    """A database activity on the main queue: short, retried until the database answers."""
    result: R = await workflow.execute_activity(
        activity,
        input,
        result_type=result_type,
        summary=summary,
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
    )
    return result


async def record_order(input: RecordOrderInput) -> RecordOrderResult:
    return await _database(ACTIVITY_RECORD_ORDER, input, RecordOrderResult, "record order")


async def record_orders(input: RecordOrdersInput) -> RecordOrdersResult:
    return await _database(
        ACTIVITY_RECORD_ORDERS, input, RecordOrdersResult, f"record {len(input.orders)} orders"
    )


async def rescore(input: RescoreInput) -> RescoreResult:
    return await _database(
        ACTIVITY_RESCORE, input, RescoreResult, f"rescore over a {input.horizon_days}-day horizon"
    )


async def draft_email(input: DraftEmailInput, task_queue: str | None, *, holdout: bool) -> DraftEmailResult:
    """``holdout`` only labels the step in the Web UI: a held-out client's draft is made (and
    approved) like any other and is never sent; the drafter does not need to know."""
    result: DraftEmailResult = await workflow.execute_activity(
        ACTIVITY_DRAFT_EMAIL,
        input,
        result_type=DraftEmailResult,
        summary=f"draft win-back email ({input.tier}{', holdout' if holdout else ''})",
        task_queue=task_queue,
        start_to_close_timeout=timedelta(minutes=2),
        schedule_to_close_timeout=timedelta(minutes=30),
        retry_policy=DRAFT_RETRY,
    )
    return result


async def load_client_facts(input: LoadClientInput) -> ClientFacts:
    return await _database(
        ACTIVITY_LOAD_CLIENT,
        input,
        ClientFacts,
        "load the client's facts from the database (a run without carried state)",
    )


async def update_email(
    email_id: str, client_id: str, status: EmailStatus, at: datetime, **fields: object
) -> UpdateEmailResult:
    """Move the email to ``status`` in the database timeline (every change goes through here).

    Expected conflicts come back as ``applied=False`` with a reason. Older workers (and the
    test doubles in recorded histories) answered nothing: that counts as applied.
    """
    result: UpdateEmailResult | None = await workflow.execute_activity(
        ACTIVITY_UPDATE_EMAIL,
        UpdateEmailInput.model_validate(
            {"email_id": email_id, "client_id": client_id, "status": status, "at": at, **fields}
        ),
        result_type=UpdateEmailResult | None,  # type: ignore[arg-type]
        summary=f"email -> {status}",
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
    )
    return result or UpdateEmailResult(email_id=email_id, status=status, applied=True)


async def send_email(input: SendEmailInput, task_queue: str | None) -> SendEmailResult:
    result: SendEmailResult = await workflow.execute_activity(
        ACTIVITY_SEND_EMAIL,
        input,
        result_type=SendEmailResult,
        summary="send approved email (at most once)",
        task_queue=task_queue,
        start_to_close_timeout=timedelta(minutes=1),
        # It heartbeats every 2 s while SMTP talks: a dead worker is noticed in 10 s, not 1 min.
        # (Only the activity's type and id are checked on replay; options may change.)
        heartbeat_timeout=timedelta(seconds=10),
        schedule_to_close_timeout=timedelta(hours=2),
        retry_policy=SEND_RETRY,
    )
    return result
