"""The ``cancel_email`` Update: ops stop a draft or a send not yet due; a due one is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts.approval import CancelEmail, EmailDecision
from core.contracts.messages import UPDATE_CANCEL_EMAIL
from tests.helpers import unique_id
from tests.workflows.conftest import CONFIG, Life
from tests.workflows.test_client_life import approve, go_silent, has_draft

pytestmark = pytest.mark.temporal
# Sends only between 23:00 and 24:00 UTC: an approval is scheduled for later.
ONE_HOUR_WINDOW = CONFIG.model_copy(update={"quiet_hours_start": 0, "quiet_hours_end": 23})


async def cancel(life: Life, cid: str, email_id: str) -> EmailDecision:
    decision: EmailDecision = await life.handle(cid).execute_update(
        UPDATE_CANCEL_EMAIL,
        CancelEmail(email_id=email_id, cancelled_by="ops-ana", reason="asked by phone"),
        result_type=EmailDecision,
    )
    return decision


async def test_client_cancel_pending_draft(life: Life) -> None:
    cid = unique_id("cancel")
    await go_silent(life, cid)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    assert (await cancel(life, cid, email.email_id)).status == "cancelled"
    state = await life.state(cid)
    assert state.pending_email is None
    assert state.last_email is not None
    assert state.last_email.status == "cancelled"
    assert state.counters.cancelled == 1
    with pytest.raises(WorkflowUpdateFailedError) as info:  # a repeat is refused before history
        await cancel(life, cid, email.email_id)
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "EmailNotPending"


async def test_client_cancel_scheduled_send_never_sends(life: Life) -> None:
    cid = unique_id("cancelsched")
    await go_silent(life, cid, ONE_HOUR_WINDOW)
    email = (await life.until(cid, has_draft)).pending_email
    assert email is not None
    if (await life.now()).hour == 23:
        await life.sleep(timedelta(hours=1))  # out of the window: the approval must wait
    decision = await approve(life, cid, email.email_id)
    assert decision.status == "approved"
    assert decision.scheduled_for is not None
    assert (await cancel(life, cid, email.email_id)).status == "cancelled"
    await life.sleep(timedelta(days=2))
    assert life.doubles.sends(cid) == []
    assert (await life.state(cid)).counters.cancelled == 1
