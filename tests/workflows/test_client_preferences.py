"""The preference page's choices inside the workflow: a break that ends by itself, and opting
in again after an unsubscribe (a bounce stays final)."""

from __future__ import annotations

from datetime import timedelta

from core.contracts.messages import SIGNAL_RESUBSCRIBED, SIGNAL_SNOOZED, SIGNAL_UNSUBSCRIBED
from core.contracts.state import WorkflowConfig
from tests.helpers import unique_id
from tests.workflows.conftest import CONFIG, Life
from tests.workflows.test_client_life import go_silent

AUTO: WorkflowConfig = CONFIG.model_copy(update={"auto_approve": True})


async def test_client_snooze_blocks_then_lifts_by_itself(life: Life) -> None:
    cid = unique_id("snooze")
    await go_silent(life, cid, AUTO)
    until = await life.now() + timedelta(days=90)  # at risk after about 45 days
    await life.signal(cid, SIGNAL_SNOOZED, {"until": until.isoformat(), "source": "preferences"}, AUTO)
    await life.until(cid, lambda s: s.tier == "at_risk", step=timedelta(days=1))
    state = await life.state(cid)
    assert state.paused_until == until
    assert state.counters.sent == 0
    await life.until(cid, lambda s: s.counters.sent == 1, step=timedelta(days=1), limit=timedelta(days=60))
    sent_at = (await life.state(cid)).last_sent_at
    assert sent_at is not None
    assert sent_at >= until


async def test_client_resubscribed_after_unsubscribe_is_emailed_again(life: Life) -> None:
    cid = unique_id("resub")
    await go_silent(life, cid, AUTO)
    await life.signal(
        cid, SIGNAL_UNSUBSCRIBED, {"at": (await life.now()).isoformat(), "source": "link"}, AUTO
    )
    await life.until(cid, lambda s: s.unsubscribed, step=timedelta(hours=1))
    await life.sleep(timedelta(days=1))
    await life.signal(cid, SIGNAL_RESUBSCRIBED, {"at": (await life.now()).isoformat()}, AUTO)
    state = await life.until(cid, lambda s: not s.unsubscribed, step=timedelta(hours=1))
    assert not state.bounced
    await life.until(cid, lambda s: s.counters.sent == 1, step=timedelta(days=1), limit=timedelta(days=120))


async def test_client_resubscribe_does_not_lift_a_bounce(life: Life) -> None:
    cid = unique_id("bounce")
    await go_silent(life, cid, AUTO)
    await life.signal(
        cid, SIGNAL_UNSUBSCRIBED, {"at": (await life.now()).isoformat(), "source": "bounce"}, AUTO
    )
    await life.sleep(timedelta(hours=1))
    await life.signal(cid, SIGNAL_RESUBSCRIBED, {"at": (await life.now()).isoformat()}, AUTO)
    state = await life.until(cid, lambda s: s.tier == "at_risk", step=timedelta(days=1))
    await life.sleep(timedelta(days=30))
    state = await life.state(cid)
    assert state.bounced
    assert state.counters.sent == 0
