"""The live policy inside one client workflow: which version it holds, the episode in progress,
and the configuration every decision reads.

How a run comes to hold a policy, each path replay-safe:

- a new run loads the current version with ``load_policy`` on its first pass (behind the
  patch ``live-policy-load``: histories recorded before it replay without the activity);
- a ``policy_changed`` signal (the pusher's batch signal, ``core/runtime/rollout.py``) offers a newer
  version; it is taken behind the patch ``live-policy-signal``, whose first check in a run that
  predates it happens live, so a long-running old run adopts too (a signal replayed from before
  that code existed is ignored, as it was then);
- continue-as-new carries the version held.

Until a run holds a version it decides exactly as before the live policy existed
(``legacy_policy``: only ``at_risk`` emailed, once per episode, the start config's settings),
so every committed history replays unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.contracts.emails import EmailStatus
    from core.contracts.policy import (
        ACTIVITY_LOAD_POLICY,
        LivePolicy,
        LoadPolicyInput,
        LoadPolicyResult,
        PolicyChanged,
        PolicyFollower,
    )
    from core.contracts.state import PendingEmail, WorkflowConfig
    from core.domain import campaign
    from core.domain.campaign import Episode
    from core.domain.policy_document import Policy, QuietHours, TierPolicy, Tiers

LOAD_PATCH = "live-policy-load"
SIGNAL_PATCH = "live-policy-signal"
LOAD_TIMEOUT = timedelta(seconds=30)
# Bounded: a run that cannot read the policy decides with its start config and asks again on
# its next pass, rather than stopping its pipeline on a read.
LOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=3
)


def legacy_policy(config: WorkflowConfig) -> Policy:
    """The policy a run follows before it holds a version: what the start config said."""
    at_risk = TierPolicy(email=True, auto_approve=config.auto_approve, offer=config.offer)
    return Policy(
        frequency_cap_days=config.frequency_cap_days,
        quiet_hours=QuietHours(start=config.quiet_hours_start, end=config.quiet_hours_end),
        approval_expiry_hours=config.approval_expiry_hours,
        cool_down_days=config.cool_down_days,
        tiers=Tiers(at_risk=at_risk),
    )


class Campaign:
    """The policy version a client workflow decides with, and its episode in progress."""

    def __init__(
        self,
        client_id: str,
        base: WorkflowConfig,
        live: LivePolicy | None = None,
        model_version: int = 0,
        episode: Episode | None = None,
    ) -> None:
        self.client_id = client_id
        self.base = base
        self.follower = PolicyFollower(live, model_version)
        self.episode = episode
        self._legacy = legacy_policy(base)

    @property
    def version(self) -> int | None:
        return self.follower.version

    @property
    def policy(self) -> Policy:
        return self.follower.policy or self._legacy

    def config(self, tier: str | None) -> WorkflowConfig:
        """What every decision for a client of ``tier`` reads now."""
        if self.follower.policy is None:
            return self.base
        return campaign.effective_config(self.base, self.follower.policy, tier)

    def targets(self, tier: str | None, expected_value: float | None) -> bool:
        return campaign.targets(self.policy, tier, expected_value)

    def offer(self, signal: PolicyChanged) -> bool:
        """Signal handler's part: take a newer version; ``True`` if the loop should re-plan."""
        return workflow.patched(SIGNAL_PATCH) and self.follower.offer(signal.policy, signal.model_version)

    async def load(self) -> bool:
        """A run's first look at the live policy (once; see the module docstring)."""
        if self.follower.live is not None or not workflow.patched(LOAD_PATCH):
            return False
        try:
            result: LoadPolicyResult = await workflow.execute_activity(
                ACTIVITY_LOAD_POLICY,
                LoadPolicyInput(client_id=self.client_id),
                result_type=LoadPolicyResult,
                start_to_close_timeout=LOAD_TIMEOUT,
                retry_policy=LOAD_RETRY,
                summary="load the live policy (a run's first look)",
            )
        except ActivityError:
            workflow.logger.warning("live policy not loaded; deciding with the start config")
            return False
        return self.follower.offer(result.policy, result.model_version)

    # ---- the episode's sequence -------------------------------------------------------------

    def may_draft(self, tier: str | None, expected_value: float | None) -> bool:
        """A follow-up is pending, or the tier is targeted for a new episode."""
        return self.follow_up_pending() or self.targets(tier, expected_value)

    def draft_fields(self, tier: str) -> dict[str, object]:
        """The next draft's place in its episode (a new episode unless a follow-up is pending)."""
        if not self.follow_up_pending():
            self.episode = Episode(tier=tier)
        e = self.episode
        assert e is not None
        return {"touch": e.touch, "episode_email_ids": list(e.email_ids)}

    def cap_basis(self, last_sent_at: datetime | None) -> datetime | None:
        """The last send the frequency cap counts: none inside an episode's follow-ups (the cap
        spaces episodes; the policy asked for these touches)."""
        in_sequence = self.episode is not None and bool(self.episode.email_ids)
        return None if in_sequence else last_sent_at

    def deadline(self, e: PendingEmail) -> datetime:
        """When a pending draft expires: by the live policy's expiry once a version is held."""
        if self.follower.policy is None:
            return e.expires_at
        return e.created_at + timedelta(hours=self.follower.policy.approval_expiry_hours)

    def closed(self, status: EmailStatus, email_id: str, at: datetime, cool_down_days: int) -> datetime:
        """An email of the episode closed: the moment the next draft may come (the next touch
        after a send or a holdout while the sequence has touches left, else the cool-down)."""
        if status in ("sent", "holdout"):
            episode = self.episode or Episode(tier="at_risk")
            self.episode = campaign.after_touch(self.policy, episode, email_id, at)
        else:
            self.episode = None  # rejected, expired, cancelled, failed: the episode is over
        if self.episode is not None and self.episode.next_touch_at is not None:
            return self.episode.next_touch_at
        return at + timedelta(days=cool_down_days)

    def end_episode(self) -> None:
        """An order or an unsubscribe ends the sequence."""
        self.episode = None

    def follow_up_pending(self) -> bool:
        """A follow-up is scheduled and the live policy still wants that touch."""
        e = self.episode
        if e is None or e.next_touch_at is None:
            return False
        rule = self.policy.tiers.of(e.tier)
        return rule.email and e.touch <= rule.sequence.touches
