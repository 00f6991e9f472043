"""Contracts of the ops workflows: a pause's timed resume and webhook delivery.

Pure pydantic models and names, importable from workflow code.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from core.contracts.messages import Frozen

RESUME_TIMER_WORKFLOW = "ClientResumeTimerWorkflow"
WEBHOOK_WORKFLOW = "WebhookDeliveryWorkflow"
ACTIVITY_RESUME_CLIENT = "record_client_resume"
ACTIVITY_DELIVER_WEBHOOKS = "deliver_webhooks"
RESUME_ACTOR = "system:pause-until"


RESUME_TIMER_PREFIX = "pause-timer-"


def resume_timer_id(client_id: str) -> str:
    """Never ``client-…``: a client whose id starts with ``resume-`` owns ``client-resume-…``."""
    return f"{RESUME_TIMER_PREFIX}{client_id}"


def webhook_workflow_id(endpoint_id: str) -> str:
    return f"webhook-{endpoint_id}"


class ResumeAt(Frozen):
    """Resume the client's workflow at ``until`` (the end of an ops pause)."""

    client_id: str
    until: datetime


class ResumeClientInput(Frozen):
    client_id: str


class ResumeClientResult(Frozen):
    """``resumed``: the database still showed the pause (not lifted by hand meanwhile)."""

    resumed: bool


class WebhookDeliveryInput(Frozen):
    """One endpoint's delivery loop; retries back off from 1 s to ``max_retry_interval_seconds``."""

    endpoint_id: str
    max_retry_interval_seconds: float = Field(default=300.0, ge=1)


class DeliverWebhooksInput(Frozen):
    endpoint_id: str


class DeliverWebhooksResult(Frozen):
    """``disabled``: the endpoint is gone or disabled and the loop should end."""

    delivered: int = 0
    disabled: bool = False
