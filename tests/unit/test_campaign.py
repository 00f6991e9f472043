"""Campaign decisions under the live policy: targeting, the effective config, sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.contracts.state import WorkflowConfig
from core.domain.campaign import Episode, after_touch, effective_config, targets
from core.domain.policy_document import Policy, TierPolicy, TouchSequence, default_policy

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def _with(tier: str, rule: TierPolicy, **changes: object) -> Policy:
    base = default_policy()
    return base.model_copy(update={"tiers": base.tiers.model_copy(update={tier: rule}), **changes})


def test_campaign_default_policy_targets_at_risk_and_lapsed_only() -> None:
    policy = default_policy()
    assert [t for t in ("active", "cooling", "at_risk", "lapsed") if targets(policy, t, None)] == [
        "at_risk",
        "lapsed",
    ]
    assert not targets(policy, None, 100.0)


def test_campaign_min_expected_value_rule() -> None:
    policy = _with("lapsed", TierPolicy(email=True, min_expected_value=50.0))
    assert targets(policy, "lapsed", 50.0)
    assert not targets(policy, "lapsed", 49.99)
    assert not targets(policy, "lapsed", None)  # unknown value: the rule cannot be met


def test_campaign_effective_config_lays_the_live_policy_over_the_start_config() -> None:
    base = WorkflowConfig(llm_task_queue="llm", send_task_queue="send", holdout_fraction=0.2, horizon_days=60)
    policy = _with(
        "at_risk", TierPolicy(email=True, auto_approve=True, offer="Free delivery"), frequency_cap_days=7
    )
    config = effective_config(base, policy, "at_risk")
    assert (config.auto_approve, config.offer, config.frequency_cap_days) == (True, "Free delivery", 7)
    assert (config.llm_task_queue, config.send_task_queue) == ("llm", "send")
    assert (config.holdout_fraction, config.horizon_days) == (0.2, 60)  # fixed for the client's life
    assert effective_config(base, policy, "lapsed").auto_approve is False
    assert effective_config(WorkflowConfig(), default_policy(), "at_risk") == WorkflowConfig()


def test_campaign_three_touch_sequence_schedules_each_follow_up_then_ends() -> None:
    rule = TierPolicy(email=True, sequence=TouchSequence(touches=3, follow_up_days=[3, 7]))
    policy = _with("lapsed", rule)
    episode = Episode(tier="lapsed")
    assert episode.touch == 1
    second = after_touch(policy, episode, "e1", T0)
    assert second is not None
    assert (second.touch, second.next_touch_at) == (2, T0 + timedelta(days=3))
    assert not second.follow_up_due(T0 + timedelta(days=2))
    assert second.follow_up_due(T0 + timedelta(days=3))
    third = after_touch(policy, second, "e2", T0 + timedelta(days=3))
    assert third is not None
    assert (third.touch, third.email_ids, third.next_touch_at) == (3, ["e1", "e2"], T0 + timedelta(days=10))
    assert after_touch(policy, third, "e3", T0 + timedelta(days=10)) is None


def test_campaign_one_touch_policy_ends_the_episode_at_once() -> None:
    assert after_touch(default_policy(), Episode(tier="at_risk"), "e1", T0) is None
