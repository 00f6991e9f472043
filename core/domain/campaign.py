"""Campaign decisions under the live policy: pure, deterministic, sandbox-safe.

The client workflow asks these at every step, always with the policy version it holds now:

- ``targets``: may this tier be emailed at all (its ``email`` flag and minimum expected value)?
- ``effective_config``: the workflow's ``WorkflowConfig`` with the live policy's caps, quiet
  hours, expiry, cool-down, and the tier's auto-approval and offer laid over it. What must not
  change with an edit (task queues, the holdout fraction, the horizon) stays as started.
- ``Episode``: one win-back episode's sequence. A sent (or held-out) touch schedules the next
  one ``follow_up_days`` later while touches remain; an order, an unsubscribe or any other
  outcome ends the episode, and only then does the cool-down start. Follow-ups inside an
  episode are not held back by the frequency cap (it spaces episodes, not the touches the
  policy asked for), but consent, pause and quiet hours apply to every touch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.contracts.policy import MAX_EPISODE_EMAILS, Episode
from core.contracts.state import WorkflowConfig
from core.domain.policy_document import Policy, TierPolicy

__all__ = ["Episode", "after_touch", "effective_config", "targets"]


def targets(policy: Policy, tier: str | None, expected_value: float | None) -> bool:
    """Whether a client of ``tier`` with this expected value may get an episode's first email."""
    if tier is None:
        return False
    rule = policy.tiers.of(tier)
    if not rule.email:
        return False
    if rule.min_expected_value is None:
        return True
    return expected_value is not None and expected_value >= rule.min_expected_value


def effective_config(base: WorkflowConfig, policy: Policy, tier: str | None) -> WorkflowConfig:
    """``base`` with the live policy laid over it (see the module docstring)."""
    rule = policy.tiers.of(tier) if tier else TierPolicy()
    return base.model_copy(
        update={
            "auto_approve": rule.auto_approve,
            "approval_expiry_hours": policy.approval_expiry_hours,
            "frequency_cap_days": policy.frequency_cap_days,
            "quiet_hours_start": policy.quiet_hours.start,
            "quiet_hours_end": policy.quiet_hours.end,
            "cool_down_days": policy.cool_down_days,
            "offer": rule.offer,
            "cta_links": list(policy.cta_links),
        }
    )


def after_touch(policy: Policy, episode: Episode, email_id: str, at: datetime) -> Episode | None:
    """The episode once ``email_id`` went out (or was held out) at ``at``: the next touch is
    scheduled while the tier's sequence has touches left; ``None`` when the episode is over."""
    sequence = policy.tiers.of(episode.tier).sequence
    sent = [*episode.email_ids, email_id][-MAX_EPISODE_EMAILS:]
    if len(sent) >= sequence.touches:
        return None
    delay = sequence.follow_up_days[len(sent) - 1]
    return episode.model_copy(update={"email_ids": sent, "next_touch_at": at + timedelta(days=delay)})
