"""What the Temporal Web UI shows about a client: timer summaries and current details."""

from __future__ import annotations

from temporalio.api.sdk.v1 import WorkflowMetadata

from core.contracts.consent import ProfileUpdated
from core.contracts.messages import SIGNAL_PROFILE_UPDATED
from tests.helpers import unique_id
from tests.workflows.conftest import Life
from tests.workflows.test_client_life import go_silent, has_draft

PERSONAL = ("Ana", "example.com", "We miss you")


async def _timer_summaries(life: Life, workflow_id: str) -> list[str]:
    history = await life.client.get_workflow_handle(workflow_id).fetch_history()
    converter = life.client.data_converter
    summaries = []
    for event in history.events:
        if event.HasField("timer_started_event_attributes") and event.user_metadata.HasField("summary"):
            [text] = await converter.decode([event.user_metadata.summary], [str])
            summaries.append(text)
    return summaries


async def test_client_ui_explains_sleep_and_standing_without_personal_data(life: Life) -> None:
    cid = unique_id("ui")
    await life.signal(cid, SIGNAL_PROFILE_UPDATED, ProfileUpdated(first_name="Ana", email="ana@example.com"))
    await go_silent(life, cid)
    state = await life.until(cid, has_draft)
    handle = life.handle(cid)

    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert details.startswith(f"at_risk (score {state.score.score:.0f})" if state.score else "")
    assert "(approval deadline)" in details
    assert "email awaiting approval until" in details

    summaries = await _timer_summaries(life, handle.id)
    assert any(s.startswith("next rescore at ") for s in summaries)
    assert summaries[-1].startswith("approval deadline at ")
    for text in [details, *summaries]:
        assert not any(p in text for p in PERSONAL), text
