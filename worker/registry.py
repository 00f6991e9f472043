"""What each task queue runs. New workflows and activities are registered here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.client_pauses import PauseActivities
from activities.drafting import DraftingActivities
from activities.emails import EmailActivities
from activities.facts import ClientFactsActivities
from activities.mail import SmtpPool
from activities.orders import OrderActivities
from activities.policy import PolicyActivities
from activities.refit import RefitActivities
from activities.scoring import ScoringActivities
from activities.sending import SendingActivities
from activities.webhooks import WebhookActivities
from core.runtime.settings import Settings
from workflows.ops import WebhookDeliveryWorkflow
from workflows.registered import WORKFLOWS


@dataclass(frozen=True)
class Dependencies:
    """The resources activities are built with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    # What the activities opened (the LLM client's connection pool): closed by ``close()``
    # once the workers have drained.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()
        self.closers.clear()


def workflows() -> Sequence[type]:
    """New workflows are added to ``workflows/registered.py`` (the replayer reads it too)."""
    return list(WORKFLOWS)


def main_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Database activities on the main task queue."""
    orders = OrderActivities(deps.sessions)
    emails = EmailActivities(deps.sessions, deps.settings)
    refit = RefitActivities(deps.sessions)
    scoring = ScoringActivities(
        deps.sessions, deps.settings.scoring.unit, deps.settings.policy.holdout_fraction
    )
    policy = PolicyActivities(deps.sessions, deps.settings)
    return [
        orders.record_order,
        orders.record_orders,
        scoring.rescore_client,
        emails.update_email,
        ClientFactsActivities(deps.sessions).load_client_facts,
        # Kept here for refits started on the main queue before the refit queue existed.
        refit.fit_model,
        refit.store_model_parameters,
        PauseActivities(deps.sessions).record_client_resume,
        policy.load_policy,
        policy.push_rollout,
    ]


def refit_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """The refit's activities, on the refit queue (the workflow schedules them on its own queue):
    fit, store, and push the stored model version to every running client."""
    refit = RefitActivities(deps.sessions)
    return [
        refit.fit_model,
        refit.store_model_parameters,
        PolicyActivities(deps.sessions, deps.settings).push_rollout,
    ]


def llm_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Drafting activities on their own queue, with their own concurrency."""
    drafting = DraftingActivities(deps.sessions, deps.settings)
    deps.closers.append(drafting.close)
    return [drafting.draft_email]


def send_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Sending activities on the rate-limited send queue, over the worker's SMTP connections
    (closed by ``close()``)."""
    pool = SmtpPool(deps.settings.smtp)
    deps.closers.append(pool.close)
    return [SendingActivities(deps.sessions, deps.settings, pool).send_email]


def webhook_workflows() -> Sequence[type]:
    return [WebhookDeliveryWorkflow]


def webhook_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Webhook delivery on its own queue: a slow endpoint holds no slot a client needs."""
    return [WebhookActivities(deps.sessions, deps.settings).deliver_webhooks]
