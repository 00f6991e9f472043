"""The client workflow's own input and state, and rebuilding a run's state from the database."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from core.contracts.consent import ProfileUpdated
from core.contracts.emails import EmailStatus
from core.contracts.messages import Frozen, OrderPlaced
from core.contracts.policy import Episode, LivePolicy
from core.contracts.scoring import Tier


class WorkflowConfig(Frozen):
    """Policy handed to each workflow in its input (snapshotted from settings at start)."""

    auto_approve: bool = False
    approval_expiry_hours: float = 72.0
    frequency_cap_days: int = 30
    quiet_hours_start: int = 20
    quiet_hours_end: int = 9
    holdout_fraction: float = 0.10
    cool_down_days: int = 30
    horizon_days: int = 90
    default_time_zone: str = "UTC"
    # Where drafting and sending activities run; ``None``: the workflow's own task queue.
    llm_task_queue: str | None = None
    send_task_queue: str | None = None
    # Continue-as-new after this many history events (the SDK's own hint comes at ~4,096).
    events_per_run: int = Field(default=1500, ge=50, le=10_000)
    # What ops' edits are checked against (the guardrails): the approved offer and our links.
    offer: str | None = None
    public_base_url: str | None = None
    # The live policy's call-to-action links (a draft and an edit may carry them).
    cta_links: list[str] = Field(default_factory=list)


class ClientProfile(ProfileUpdated):
    """The client's profile as the workflow knows it: every ``profile_updated`` merged."""


PendingEmailStatus = Literal["pending_approval", "approved"]


class PendingEmail(Frozen):
    """The one email in flight: drafted and awaiting a decision, or approved and scheduled."""

    email_id: str
    status: PendingEmailStatus
    created_at: datetime
    expires_at: datetime
    holdout: bool = False
    subject: str | None = None
    preheader: str | None = None
    body_text: str | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    scheduled_for: datetime | None = None
    # The newest order known when drafting: only a newer order means the client came back.
    basis_last_order_at: datetime | None = None
    # Sends that provably reached no SMTP server (refused, auth, config): each backs off longer.
    send_attempts: int = 0


class EmailOutcome(Frozen):
    """How the last email ended (sent, holdout, rejected, expired, cancelled, failed, unknown)."""

    email_id: str
    status: EmailStatus
    at: datetime
    reason: str | None = None


class WorkflowCounters(Frozen):
    """Running totals over the client's life (carried across continue-as-new)."""

    orders_recorded: int = 0
    duplicate_orders: int = 0
    rescores: int = 0
    drafts: int = 0
    sent: int = 0
    would_have_sent: int = 0
    rejected: int = 0
    expired: int = 0
    cancelled: int = 0
    failed: int = 0
    reschedules: int = 0
    runs: int = 1
    activity_failures: int = 0
    send_deferrals: int = 0
    draft_failures: int = 0  # drafting failed (not for want of an address); retried a day later


class ScoreView(Frozen):
    """The latest score with its explanation and the model that produced it."""

    scored_at: datetime
    score: float
    tier: Tier
    segment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    p_order_again: float | None = None
    model_version: int | None = None
    model_is_default: bool = True
    expected_orders: float | None = None
    expected_value: float | None = None


class CarriedState(Frozen):
    """What a run hands to the next across continue-as-new: compact and bounded."""

    recent_order_ids: list[str] = Field(default_factory=list)
    pending_orders: list[OrderPlaced] = Field(default_factory=list)
    order_count: int = 0
    last_order_at: datetime | None = None
    first_order_at: datetime | None = None
    duplicate_orders: int = 0
    profile: ClientProfile | None = None
    score: ScoreView | None = None
    next_check_at: datetime | None = None
    email: PendingEmail | None = None
    last_email: EmailOutcome | None = None
    last_sent_at: datetime | None = None
    draft_not_before: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounced: bool = False
    paused: bool = False
    counters: WorkflowCounters | None = None
    paused_until: datetime | None = None
    retry_at: datetime | None = None
    blocked_reason: str | None = None
    attention_at: datetime | None = None
    attention_failures: int = 0
    # The live policy version this run decided with, the model version it has seen, and the
    # win-back episode in progress (its sequence of touches).
    policy: LivePolicy | None = None
    model_version: int = 0
    episode: Episode | None = None


class ClientWorkflowInput(Frozen):
    client_id: str
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)
    carried: CarriedState | None = None


class ClientStateView(Frozen):
    """Query ``state``: what the workflow knows right now."""

    client_id: str
    order_count: int
    last_order_at: datetime | None
    pending_orders: int
    first_order_at: datetime | None = None
    profile: ClientProfile | None = None
    score: ScoreView | None = None
    tier: Tier | None = None
    pending_email: PendingEmail | None = None
    last_email: EmailOutcome | None = None
    next_wake_at: datetime | None = None
    next_check_at: datetime | None = None
    last_sent_at: datetime | None = None
    draft_not_before: datetime | None = None
    blocked_reason: str | None = None
    paused: bool = False
    paused_until: datetime | None = None
    unsubscribed: bool = False
    bounced: bool = False
    holdout: bool = False
    counters: WorkflowCounters = Field(default_factory=WorkflowCounters)
    history_length: int = 0
    # An activity failed unexpectedly; the loop tries again at ``attention_at``.
    needs_attention: bool = False
    attention_at: datetime | None = None
    # The live policy version decisions use (None: the start config, before any was adopted).
    policy_version: int | None = None
    model_version: int | None = None
    episode: Episode | None = None


class LoadClientInput(Frozen):
    client_id: str
    # An email in flight found in the database expires this long after it was drafted.
    approval_expiry_hours: float = 72.0


class ClientFacts(Frozen):
    """What the database knows of a client: loaded when a run starts without carried state
    (first start, after terminate or reset), so consent and the cap survive any closed run."""

    exists: bool = False
    profile: ClientProfile | None = None
    order_count: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounced: bool = False
    holdout: bool = False
    paused_until: datetime | None = None
    # Held by ops (POST /v1/clients/{id}:pause) and not resumed; a timed hold that is over is not.
    paused: bool = False
    last_sent_at: datetime | None = None
    # The email left mid-flight (pending approval, approved or claimed for sending), if any;
    # older in-flight rows were closed as superseded by the activity.
    email: PendingEmail | None = None
    last_email: EmailOutcome | None = None
