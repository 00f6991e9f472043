"""The client workflow's wire names (signals, updates, queries), its id scheme, and the
order messages. Renaming a name breaks every running workflow: these are wire names.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from core.domain.money import CURRENCIES, to_minor
from core.domain.text import NOT_BLANK_SCHEMA

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

# The activities' names (the workflows schedule them by name; the worker registers them).
ACTIVITY_RECORD_ORDER = "record_order"
ACTIVITY_RECORD_ORDERS = "record_orders"
ACTIVITY_RESCORE = "rescore_client"
ACTIVITY_DRAFT_EMAIL = "draft_email"
ACTIVITY_UPDATE_EMAIL = "update_email"
ACTIVITY_SEND_EMAIL = "send_email"
ACTIVITY_LOAD_CLIENT = "load_client_facts"
# No "@": workflow ids (``client-{id}``) and search attributes are never encrypted, so an email
# address must not become a client id.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NOT_BLANK_SCHEMA
]


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
