"""Messages and activity contracts of the live policy: how workflows learn of a new version.

Pure pydantic, importable from workflow code. Kept apart from the client workflow's contracts so the
policy's wire models evolve on their own; all of them ignore fields they do not know (old
and new code run side by side during a deploy).

- Signal ``policy_changed`` (``PolicyChanged``): "a newer policy or model version exists",
  carrying the policy itself (a couple of KB, encoded once for the whole batch), so adopting
  it costs a sleeping workflow one workflow task and no activity. Versions only ever move
  forward (``PolicyFollower``): a late, repeated or out-of-order signal changes nothing.
- Activity ``load_policy`` (``LoadPolicyInput`` -> ``LivePolicy``): the current policy
  document with its version, and the newest model version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.domain.policy_document import Policy

SIGNAL_POLICY_CHANGED = "policy_changed"
MAX_EPISODE_EMAILS = 10
ACTIVITY_LOAD_POLICY = "load_policy"


class Tolerant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LivePolicy(Tolerant):
    """The current policy (``document``: a ``Policy`` as JSON, read with ``policy()``)."""

    version: int = Field(ge=1)
    document: dict[str, Any]

    def policy(self) -> Policy:
        return Policy.tolerant(self.document)


class PolicyChanged(Tolerant):
    """Signal ``policy_changed``: adopt ``policy`` and rescore with ``model_version`` if newer."""

    policy: LivePolicy | None = None
    model_version: int = Field(default=0, ge=0)


class LoadPolicyInput(Tolerant):
    client_id: str


class LoadPolicyResult(Tolerant):
    policy: LivePolicy
    model_version: int = 0


class Episode(Tolerant):
    """The episode in progress (carried across continue-as-new): its tier, the emails it has
    sent so far, and when the next touch is due (``None``: no follow-up pending)."""

    tier: str
    email_ids: list[str] = Field(default_factory=list, max_length=MAX_EPISODE_EMAILS)
    next_touch_at: datetime | None = None

    @property
    def touch(self) -> int:
        """The touch the next draft is (1: the episode's first email)."""
        return len(self.email_ids) + 1

    def follow_up_due(self, now: datetime) -> bool:
        return self.next_touch_at is not None and now >= self.next_touch_at


class PolicyFollower:
    """What a workflow knows of the live policy and model: versions only move forward.

    Pure and deterministic: ``offer`` is called from a signal handler (record only), and the
    workflow's loop asks ``take_model_change`` whether a newer model calls for a rescore.
    """

    def __init__(self, live: LivePolicy | None = None, model_version: int = 0) -> None:
        self.live = live
        self.model_version = model_version
        self._model_changed = False
        self._policy = live.policy() if live else None

    @property
    def version(self) -> int | None:
        return self.live.version if self.live else None

    @property
    def policy(self) -> Policy | None:
        return self._policy

    def offer(self, live: LivePolicy | None, model_version: int = 0) -> bool:
        """Keep what is newer; ``True`` if anything changed."""
        changed = False
        if live is not None and live.version > (self.version or 0):
            self.live, self._policy, changed = live, live.policy(), True
        if model_version > self.model_version:
            self.model_version, self._model_changed, changed = model_version, True, True
        return changed

    def take_model_change(self) -> bool:
        """``True`` once after a newer model version arrived."""
        changed, self._model_changed = self._model_changed, False
        return changed


ACTIVITY_PUSH_ROLLOUT = "push_rollout"


class PushRolloutInput(Tolerant):
    """Push the current policy and model versions to running client workflows."""

    reason: str = ""


class PushRolloutResult(Tolerant):
    job_id: str
    outcome: str
