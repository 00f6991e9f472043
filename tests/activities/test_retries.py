"""Drafting and sending under Temporal's retry policy, on a real worker and the dev server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from activities.drafting import DraftingActivities
from activities.sending import SendingActivities
from core.contracts.emails import DraftEmailResult, SendEmailResult
from core.contracts.messages import ACTIVITY_DRAFT_EMAIL, ACTIVITY_SEND_EMAIL
from core.runtime.settings import LlmSettings, Settings
from tests.activities.factories import NOW, add_client, add_email, get_email
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.smtp import smtp_server
from tests.fakes.workflows import ActivityCall, ActivityCallWorkflow
from tests.helpers import new_worker, serve_app, unique_id

pytestmark = pytest.mark.temporal


async def _call(
    client: Client, activity: Any, name: str, input: dict[str, Any], **call: Any
) -> dict[str, Any]:
    queue = f"acts-{uuid.uuid4()}"
    async with (
        new_worker(client, activities=[activity], task_queue=queue),
        new_worker(client, workflows=[ActivityCallWorkflow]) as wf_worker,
    ):
        result: dict[str, Any] = await client.execute_workflow(
            ActivityCallWorkflow.run,
            ActivityCall(activity=name, task_queue=queue, input=input, **call),
            id=unique_id("wf-call"),
            task_queue=wf_worker.task_queue,
        )
        return result


def _draft_input(client_id: str) -> dict[str, Any]:
    return {
        "email_id": unique_id("e"),
        "client_id": client_id,
        "tier": "at_risk",
        "created_at": NOW.isoformat(),
    }


async def _llm_acts(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], url: str
) -> DraftingActivities:
    llm = LlmSettings(base_url=f"{url}/v1", api_key=SecretStr("k"), model="fake-model", timeout_seconds=0.5)
    return DraftingActivities(sessions, settings.model_copy(update={"llm": llm}))


@pytest.mark.parametrize("first", ["rate_limited", "server_error", "slow"])
async def test_draft_email_transient_llm_errors_are_retried(
    dev_client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], first: str
) -> None:
    cid = await add_client(sessions)
    fake = FakeOpenAI(script=[first], retry_after="1", slow_seconds=1.0)
    async with serve_app(fake.app) as url:
        acts = await _llm_acts(settings, sessions, url)
        raw = await _call(dev_client, acts.draft_email, ACTIVITY_DRAFT_EMAIL, _draft_input(cid))
        await acts.close()
    result = DraftEmailResult.model_validate(raw)
    assert (result.generator, result.fell_back, len(fake.requests)) == ("llm", False, 2)
    if first == "rate_limited":  # Retry-After: 1 beats the 0.1 s retry interval
        assert fake.times[1] - fake.times[0] >= 0.95


@pytest.mark.parametrize(
    ("first", "error_type"), [("bad_request", "LlmBadRequest"), ("unauthorized", "LlmUnauthorized")]
)
async def test_draft_email_permanent_llm_errors_are_not_retried(
    dev_client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    first: str,
    error_type: str,
) -> None:
    cid = await add_client(sessions)
    fake = FakeOpenAI(default=first)
    async with serve_app(fake.app) as url:
        acts = await _llm_acts(settings, sessions, url)
        with pytest.raises(WorkflowFailureError) as info:
            await _call(dev_client, acts.draft_email, ACTIVITY_DRAFT_EMAIL, _draft_input(cid))
        await acts.close()
    assert isinstance(info.value.cause, ActivityError)
    cause = info.value.cause.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.non_retryable) == (error_type, True)
    assert len(fake.requests) == 1


async def test_send_email_temporary_rejection_is_retried_and_sent_once(
    dev_client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="approved")
    with smtp_server() as server:
        server.handler.next_modes = ["tempfail", "tempfail_rcpt"]
        smtp = settings.smtp.model_copy(update={"port": server.port, "timeout_seconds": 2.0})
        acts = SendingActivities(sessions, settings.model_copy(update={"smtp": smtp}))
        raw = await _call(
            dev_client, acts.send_email, ACTIVITY_SEND_EMAIL, {"email_id": eid, "client_id": cid}
        )
    result = SendEmailResult.model_validate(raw)
    assert result.outcome == "sent"
    assert len(server.received) == 2  # the 451 after DATA, then the accepted one; RCPT 451 had no DATA
    assert (await get_email(sessions, eid)).status == "sent"
