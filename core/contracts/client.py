"""Messages of the client workflow and contracts of its activities.

Pure pydantic models and names, importable from workflow code: the API, the
workflow and the activities all speak these, one model in and one model out.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from core.contracts.policy import Episode, LivePolicy
from core.domain.money import CURRENCIES, to_minor

CLIENT_WORKFLOW = "ClientEngagementWorkflow"

# The client workflow's messages: the one place their names are spelled (the workflow, the
# API, the dashboard, the CLI, tests and benches import them). Renaming one breaks every
# running workflow and recorded history: these are wire names, not identifiers.
SIGNAL_ORDER_PLACED = "order_placed"
SIGNAL_ORDERS_IMPORTED = "orders_imported"
SIGNAL_PROFILE_UPDATED = "profile_updated"
SIGNAL_UNSUBSCRIBED = "unsubscribed"
SIGNAL_PAUSED = "paused"
SIGNAL_RESUMED = "resumed"
SIGNAL_SNOOZED = "snoozed"
SIGNAL_RESUBSCRIBED = "resubscribed"
SIGNAL_PAST_EMAIL_SENT = "past_email_sent"
SIGNAL_EMAIL_RESOLVED = "email_resolved"
UPDATE_APPROVE_EMAIL = "approve_email"
UPDATE_REJECT_EMAIL = "reject_email"
UPDATE_CANCEL_EMAIL = "cancel_email"
QUERY_STATE = "state"
# No "@": workflow ids (``client-{id}``) and search attributes are never encrypted, so an email
# address must not become a client id.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


CLIENT_WORKFLOW_PREFIX = "client-"


def client_workflow_id(client_id: str) -> str:
    """The one workflow id per client: the entity's natural key."""
    return f"{CLIENT_WORKFLOW_PREFIX}{client_id}"


# The timed resume of an ops pause (core.contracts.ops.resume_timer_id) is the client's too.
# Prefixes are disjoint, so a workflow id names at most one client.
CLIENT_WORKFLOW_PREFIXES = ("pause-timer-", CLIENT_WORKFLOW_PREFIX)


def client_id_of_workflow(workflow_id: str) -> str | None:
    """The client a workflow id belongs to, or None for any other workflow (refit, webhooks).

    Its payloads are encrypted under that client's data key (core/runtime/codec.py).
    """
    for prefix in CLIENT_WORKFLOW_PREFIXES:
        if workflow_id.startswith(prefix):
            client_id = workflow_id[len(prefix) :]
            return client_id if re.match(CLIENT_ID_PATTERN, client_id) else None
    return None


class Frozen(BaseModel):
    """Wire models (signals, updates, activity inputs and results, workflow state).

    Old and new code run side by side during every deploy: a field this code does not know
    is ignored, never a reason to drop a signal or fail a task. The HTTP API's own request
    models (``api/``) stay strict (``extra="forbid"``, a 422 names the field).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderItem(Frozen):
    sku: ShortText
    category: ShortText | None = None
    kept: bool | None = None


class OrderPlaced(Frozen):
    """Signal ``order_placed``: idempotent by ``order_id``."""

    order_id: ShortText
    placed_at: AwareDatetime
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, allow_inf_nan=False)]
    items: list[OrderItem] = Field(default_factory=list, max_length=200)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown ISO 4217 currency code {value!r}")
        return value

    @field_validator("amount")
    @classmethod
    def _fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        if currency is not None:
            to_minor(value, currency)  # 1.005 USD is not an amount
        return value

    def amount_minor(self) -> int:
        return to_minor(self.amount, self.currency)


# One ``orders_imported`` message carries at most this many orders (an order with its items is
# at most ~25 KB of JSON; a typical one well under 1 KB): a client's whole history in one
# message for all but the longest, and always far below Temporal's 2 MB payload limit.
IMPORT_BATCH_MAX = 200


class OrdersImported(Frozen):
    """Signal ``orders_imported``: a client's order history, oldest first, in one message.

    ``rekindle import`` sends it once per client, so the workflow records the history in one
    activity, scores once and drafts at most once, from the latest state. Each order is
    idempotent by ``order_id`` as in ``order_placed``.
    """

    orders: list[OrderPlaced] = Field(min_length=1, max_length=IMPORT_BATCH_MAX)


class RecordOrderInput(Frozen):
    client_id: str
    order: OrderPlaced


class RecordOrderResult(Frozen):
    inserted: bool
    order_count: int
    last_order_at: datetime | None


class RecordOrdersInput(Frozen):
    """``record_orders``: the pending orders of one client, recorded in one transaction."""

    client_id: str
    orders: list[OrderPlaced] = Field(min_length=1, max_length=IMPORT_BATCH_MAX)


class RecordOrdersResult(Frozen):
    inserted: int
    order_count: int
    last_order_at: datetime | None


# ---- profile and consent signals -----------------------------------------------------------

EMAIL_PATTERN = r"^[^@\s<>\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"


class ProfileUpdated(Frozen):
    """Signal ``profile_updated``: fields left ``None`` are unchanged."""

    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)] | None = None
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None
    style_notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Unsubscribed(Frozen):
    """Signal ``unsubscribed``: consent withdrawn; any pending email is cancelled at once."""

    at: AwareDatetime
    source: Literal["link", "one_click", "mailto", "api", "bounce", "ops"] = "link"


class Paused(Frozen):
    """Signal ``paused``: no drafting or sending until ``resumed``."""

    reason: Annotated[str, StringConstraints(max_length=500)] = ""
    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Resumed(Frozen):
    """Signal ``resumed``."""

    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Snoozed(Frozen):
    """Signal ``snoozed``: the client asked for a break; nothing is drafted or sent until ``until``."""

    until: AwareDatetime
    source: Annotated[str, StringConstraints(max_length=32)] = "preferences"


class EmailResolved(Frozen):
    """Signal ``email_resolved``: a person settled an ``unknown`` email as ``sent`` or ``failed``
    (not sent) in the database; the workflow's record of its last email follows. The frequency
    cap keeps counting it either way (the conservative reading)."""

    email_id: Annotated[str, StringConstraints(max_length=64)]
    status: Literal["sent", "failed"]
    by: Annotated[str, StringConstraints(max_length=128)] = "ops"


class Resubscribed(Frozen):
    """Signal ``resubscribed``: consent given again after an opt-out made before ``at``.

    A bounced address stays blocked: only a working address can be emailed.
    """

    at: AwareDatetime
    source: Annotated[str, StringConstraints(max_length=32)] = "preferences"


class PastEmailSent(Frozen):
    """Signal ``past_email_sent``: a re-engagement email sent before Rekindle (an import).

    The frequency cap counts it: the workflow's last send moves to ``sent_at`` if that is
    later, never back. No email id or content: the workflow needs only the moment.
    """

    sent_at: AwareDatetime


# ---- approval updates ----------------------------------------------------------------------


class ApproveEmail(Frozen):
    """Update ``approve_email``: the id must be the pending draft; edits are re-checked."""

    email_id: ShortText
    approved_by: ShortText
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    preheader: Annotated[str, StringConstraints(max_length=200)] | None = None
    body_text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None


class RejectEmail(Frozen):
    """Update ``reject_email``: the id must be the pending draft."""

    email_id: ShortText
    rejected_by: ShortText
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class CancelEmail(Frozen):
    """Update ``cancel_email``: the id must be the email in flight, a draft or a send not yet due."""

    email_id: ShortText
    cancelled_by: ShortText
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = "cancelled by ops"


# The ``type`` of the ApplicationError an approval validator raises, which the API maps:
# the email is not the pending draft (already decided, expired, cancelled, unknown) -> 409;
# the edited subject/body fails the guardrails -> 422 (details[0]: the failing verdicts,
# a list of GuardrailVerdict dicts). Any other rejection is answered as 409.
UPDATE_ERROR_NOT_PENDING = "EmailNotPending"
UPDATE_ERROR_GUARDRAILS = "EditRejected"


class EmailDecision(Frozen):
    """What an approval Update answers: the email's status after the decision.

    ``reason``: why the decision was not applied (the draft stays pending), e.g. the
    edit failed the activity's guardrails although the workflow's validator passed it.
    """

    email_id: str
    status: str
    scheduled_for: datetime | None = None
    reason: str | None = None


# ---- activity contracts: scoring ------------------------------------------------------------

ACTIVITY_RECORD_ORDER = "record_order"
ACTIVITY_RECORD_ORDERS = "record_orders"
ACTIVITY_RESCORE = "rescore_client"
ACTIVITY_DRAFT_EMAIL = "draft_email"
ACTIVITY_UPDATE_EMAIL = "update_email"
ACTIVITY_SEND_EMAIL = "send_email"
ACTIVITY_LOAD_CLIENT = "load_client_facts"

Tier = Literal["active", "cooling", "at_risk", "lapsed"]


class RescoreInput(Frozen):
    client_id: str
    now: datetime
    horizon_days: int = 90


class RescoreResult(Frozen):
    """The score as recorded; ``next_check_at`` is when the tier would next change with no orders."""

    score: float
    tier: Tier
    segment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    p_alive: float | None = None
    p_order_again: float | None = None
    model_version: int | None = None
    model_is_default: bool = True
    next_check_at: datetime | None = None
    # Over the horizon: expected orders and spend (the client's currency); a tier's policy
    # may require a minimum expected value before emailing.
    expected_orders: float | None = None
    expected_value: float | None = None


# ---- activity contracts: drafting and sending -----------------------------------------------

EmailStatus = Literal[
    "pending_approval",
    "approved",
    "sending",
    "sent",
    "rejected",
    "expired",
    "failed",
    "unknown",
    "holdout",
    "cancelled",
]


class GuardrailVerdict(Frozen):
    name: str
    passed: bool
    detail: str = ""


class DraftEmailInput(Frozen):
    """Draft one email; the activity reads the profile and orders itself (no personal data here)."""

    email_id: str
    client_id: str
    tier: Tier
    segment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    created_at: datetime
    # A sequence's touch (1: the episode's first email) and the episode's earlier emails, which
    # the drafter reads so a follow-up knows what was said; absent in older histories' inputs.
    touch: int = Field(default=1, ge=1, le=10)
    episode_email_ids: list[str] = Field(default_factory=list, max_length=10)


class DraftEmailResult(Frozen):
    email_id: str
    subject: str
    preheader: str
    body_text: str
    body_html: str
    generator: str
    model: str | None = None
    prompt_version: str
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)
    fell_back: bool = False
    # what the stored email is now: a retry for an email already decided answers its status
    status: EmailStatus = "pending_approval"


class UpdateEmailInput(Frozen):
    """Move an email to ``status`` and append to its timeline (idempotent by email, status, at)."""

    email_id: str
    client_id: str
    status: EmailStatus
    at: datetime
    actor: str | None = None
    reason: str | None = None
    scheduled_for: datetime | None = None
    subject: str | None = None
    preheader: str | None = None
    body_text: str | None = None


class UpdateEmailResult(Frozen):
    """``applied``: the row moved (or already was) at ``status``; else ``status`` is what it is
    (``None``: no such email) and ``reason`` says why (an expected conflict, not an error)."""

    email_id: str
    status: EmailStatus | None = None
    applied: bool
    reason: str | None = None


class SendEmailInput(Frozen):
    email_id: str
    client_id: str


class SendEmailResult(Frozen):
    """``sent``: delivered now or by an earlier attempt; ``unknown``: a crash left the outcome
    unknown and nothing was resent; ``failed``: permanent rejection, address suppressed;
    ``suppressed``: the address opted out before sending, nothing sent; ``cancelled``: no
    address on file, nothing sent (not a bounce: an address may still come)."""

    email_id: str
    outcome: Literal["sent", "unknown", "failed", "suppressed", "cancelled"]
    message_id: str | None = None
    detail: str = ""


# ---- the workflow's own input and state ------------------------------------------------------


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


# ---- rebuilding a run's state from the database ----------------------------------------------


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
