"""What each task queue runs. New workflows and activities are registered here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.drafting import DraftingActivities
from activities.emails import EmailActivities
from activities.orders import OrderActivities
from activities.refit import RefitActivities
from activities.scoring import ScoringActivities
from activities.sending import SendingActivities
from core.settings import Settings
from workflows.client import ClientEngagementWorkflow
from workflows.refit import RefitModelWorkflow


@dataclass(frozen=True)
class Dependencies:
    """The resources activities are built with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]


def workflows() -> Sequence[type]:
    return [ClientEngagementWorkflow, RefitModelWorkflow]


def main_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Database activities on the main task queue."""
    orders = OrderActivities(deps.sessions)
    emails = EmailActivities(deps.sessions, deps.settings)
    refit = RefitActivities(deps.sessions)
    scoring = ScoringActivities(deps.sessions, deps.settings.scoring.unit)
    return [
        orders.record_order,
        scoring.rescore_client,
        emails.update_email,
        refit.fit_model,
        refit.store_model_parameters,
    ]


def llm_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Drafting activities on their own queue, with their own concurrency."""
    return [DraftingActivities(deps.sessions, deps.settings).draft_email]


def send_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Sending activities on the rate-limited send queue."""
    return [SendingActivities(deps.sessions, deps.settings).send_email]
