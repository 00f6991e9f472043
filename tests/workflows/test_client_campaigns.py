"""Campaigns under the live policy on the time-skipping server: a three-touch sequence that an
order stops, a draft in the client's language, a policy change that reaches a pending draft,
and the lapsed win-back the default policy adds."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.contracts.policy import SIGNAL_POLICY_CHANGED, PolicyChanged
from core.contracts.state import ClientStateView
from core.domain import search_attributes as sa
from core.domain.policy_document import Policy, QuietHours, TierPolicy, TouchSequence, default_policy
from core.runtime.settings import Settings
from core.store.models import Client
from tests.helpers import unique_id
from tests.workflows.conftest import Life
from tests.workflows.pipeline_env import AUTO, emails_of, go_silent, real_life, real_worker

pytestmark = pytest.mark.temporal


def _policy(tier: str, rule: TierPolicy, **changes: object) -> Policy:
    base = default_policy(quiet_hours_start=0, quiet_hours_end=0)
    return base.model_copy(update={"tiers": base.tiers.model_copy(update={tier: rule}), **changes})


def drafted(n: int):  # type: ignore[no-untyped-def]
    def check(state: ClientStateView) -> bool:
        return state.counters.drafts >= n

    return check


async def test_client_three_touch_sequence_stops_at_an_order(life: Life) -> None:
    cid = unique_id("seq")
    sequence = TouchSequence(touches=3, follow_up_days=[3, 7])
    life.policy.set(cid, 1, _policy("at_risk", TierPolicy(email=True, auto_approve=True, sequence=sequence)))
    await go_silent(life, cid, AUTO)
    await life.until(cid, lambda s: s.counters.sent >= 1)
    first = life.doubles.sends(cid)[0]
    state = await life.state(cid)
    assert state.policy_version == 1
    assert state.episode is not None
    assert state.episode.touch == 2
    assert state.episode.next_touch_at is not None
    assert abs(state.episode.next_touch_at - (first.at + timedelta(days=3))) < timedelta(minutes=1)

    await life.until(cid, lambda s: s.counters.sent >= 2, step=timedelta(hours=12))
    second = life.doubles.sends(cid)[1]
    assert second.at - first.at >= timedelta(days=3) - timedelta(minutes=1)
    follow_up = life.doubles.drafts[-1]
    assert (follow_up.touch, follow_up.episode_email_ids) == (2, [first.email_id])
    assert second.at - first.at < timedelta(days=30)  # the frequency cap spaces episodes, not touches

    await life.order(cid, f"{cid}-back", AUTO)  # the client came back before the third touch
    await life.sleep(timedelta(days=20))
    state = await life.state(cid)
    assert state.episode is None
    assert len(life.doubles.sends(cid)) == 2
    assert [d.touch for d in life.doubles.drafts if d.client_id == cid] == [1, 2]


async def test_client_policy_change_mid_approval_auto_approves_and_reaches_the_search_attribute(
    life: Life,
) -> None:
    cid = unique_id("midway")
    manual = _policy("at_risk", TierPolicy(email=True, auto_approve=False), approval_expiry_hours=72.0)
    life.policy.set(cid, 1, manual)
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.pending_email is not None)
    assert state.pending_email is not None
    assert state.pending_email.status == "pending_approval"
    assert (await life.handle(cid).describe()).typed_search_attributes.get(sa.POLICY_VERSION) == 1

    auto = manual.model_copy(
        update={
            "tiers": manual.tiers.model_copy(update={"at_risk": TierPolicy(email=True, auto_approve=True)})
        }
    )
    v2 = life.policy.set(cid, 2, auto)
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v2))
    await life.handle(cid).signal(
        SIGNAL_POLICY_CHANGED, PolicyChanged(policy=life.policy.live(cid))
    )  # a repeat
    state = await life.until(cid, lambda s: s.counters.sent >= 1, step=timedelta(minutes=30))
    assert state.policy_version == 2
    assert life.doubles.statuses(cid) == ["pending_approval", "approved", "sent"]
    approved = next(u for u in life.doubles.updates if u.client_id == cid and u.status == "approved")
    assert approved.actor == "policy:auto-approve"
    assert (await life.handle(cid).describe()).typed_search_attributes.get(sa.POLICY_VERSION) == 2


async def test_client_policy_change_mid_approval_shortens_the_deadline(life: Life) -> None:
    cid = unique_id("deadline")
    life.policy.set(cid, 1, _policy("at_risk", TierPolicy(email=True), approval_expiry_hours=72.0))
    await go_silent(life, cid, AUTO)
    email = (await life.until(cid, lambda s: s.pending_email is not None)).pending_email
    assert email is not None
    await life.sleep(timedelta(hours=5))
    v2 = life.policy.set(cid, 2, _policy("at_risk", TierPolicy(email=True), approval_expiry_hours=4.0))
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v2))
    state = await life.until(cid, lambda s: s.last_email is not None, step=timedelta(minutes=10))
    assert state.last_email is not None
    assert (state.last_email.email_id, state.last_email.status) == (email.email_id, "expired")
    assert life.doubles.sends(cid) == []


async def test_client_lapsed_gets_a_win_back_once_the_policy_targets_lapsed(life: Life) -> None:
    cid = unique_id("lapsed")
    off = _policy("lapsed", TierPolicy(email=False))
    off = off.model_copy(update={"tiers": off.tiers.model_copy(update={"at_risk": TierPolicy(email=False)})})
    life.policy.set(cid, 1, off)
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.tier == "lapsed", step=timedelta(days=10))
    assert state.counters.drafts == 0
    v2 = life.policy.set(cid, 2, _policy("lapsed", TierPolicy(email=True)))
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v2))
    state = await life.until(
        cid, lambda s: s.pending_email is not None, step=timedelta(minutes=10), limit=timedelta(hours=2)
    )
    assert (state.policy_version, state.tier) == (2, "lapsed")
    assert life.doubles.drafts[-1].tier == "lapsed"


async def test_client_draft_is_in_the_clients_language(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    cid = unique_id("fr")
    async with real_life(time_env, sessions) as life, real_worker(life, settings):
        life.policy.set(cid, 1, _policy("at_risk", TierPolicy(email=True)))
        await life.order(cid, f"{cid}-o0", AUTO)
        await life.until(cid, lambda s: s.order_count == 1, step=timedelta(minutes=1))  # the row exists
        async with sessions() as session, session.begin():
            await session.execute(
                update(Client)
                .where(Client.id == cid)
                .values(locale="fr-FR", first_name="Amélie", email="amelie@example.com")
            )
        for month in range(1, 3):
            await life.sleep(timedelta(days=30))
            await life.order(cid, f"{cid}-o{month}", AUTO)
        await life.until(cid, lambda s: s.pending_email is not None, step=timedelta(days=5))
        (email,) = await emails_of(sessions, cid)
    assert email.body_text is not None
    assert email.body_text.startswith("Bonjour Amélie,")
    assert "L'équipe Rekindle" in email.body_text
    assert email.generator == "template"


async def test_client_quiet_hours_change_re_plans_a_scheduled_send(life: Life) -> None:
    """An approved email waiting for its send window is re-planned when a policy version moves
    the quiet hours: here the window is lifted and the email goes out at once, not 12 h later."""
    cid = unique_id("quiet")
    life.policy.set(cid, 1, _policy("at_risk", TierPolicy(email=True), approval_expiry_hours=72.0))
    await go_silent(life, cid, AUTO)
    await life.until(cid, lambda s: s.pending_email is not None)
    # Sends only in the hour that opens 12 hours from now (the client's zone is UTC).
    opens = ((await life.now()).astimezone(UTC).hour + 12) % 24
    narrow = QuietHours(start=(opens + 1) % 24, end=opens)
    auto = TierPolicy(email=True, auto_approve=True)
    v2 = life.policy.set(cid, 2, _policy("at_risk", auto, quiet_hours=narrow))
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v2))

    def approved(state: ClientStateView) -> bool:
        return state.pending_email is not None and state.pending_email.status == "approved"

    state = await life.until(cid, approved, step=timedelta(minutes=10))
    assert state.pending_email is not None
    scheduled = state.pending_email.scheduled_for
    assert scheduled is not None
    assert scheduled.astimezone(UTC).hour == opens
    assert scheduled - await life.now() > timedelta(hours=10)
    assert life.doubles.sends(cid) == []

    v3 = life.policy.set(cid, 3, _policy("at_risk", auto))  # no quiet hours
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v3))
    state = await life.until(cid, lambda s: s.counters.sent >= 1, step=timedelta(minutes=10))
    assert state.policy_version == 3
    [sent] = life.doubles.sends(cid)
    assert scheduled - sent.at > timedelta(hours=10)


async def test_client_minimum_expected_value_holds_the_draft_until_the_policy_lowers_it(life: Life) -> None:
    """A tier rule with ``min_expected_value`` above the client's expected spend drafts nothing;
    the version that drops the minimum drafts the same sleeping client."""
    cid = unique_id("value")
    high = TierPolicy(email=True, auto_approve=True, min_expected_value=1_000_000)
    life.policy.set(cid, 1, _policy("at_risk", high))
    await go_silent(life, cid, AUTO)
    state = await life.until(cid, lambda s: s.tier == "at_risk", step=timedelta(days=1))
    await life.sleep(timedelta(days=5))
    state = await life.state(cid)
    assert (state.tier, state.counters.drafts, state.pending_email) == ("at_risk", 0, None)

    v2 = life.policy.set(cid, 2, _policy("at_risk", TierPolicy(email=True, auto_approve=True)))
    await life.handle(cid).signal(SIGNAL_POLICY_CHANGED, PolicyChanged(policy=v2))
    state = await life.until(cid, lambda s: s.counters.sent >= 1, step=timedelta(minutes=10))
    assert (state.policy_version, state.counters.drafts) == (2, 1)
