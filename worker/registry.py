"""What each task queue runs. New workflows and activities are registered here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from core.settings import Settings
from workflows.client import ClientEngagementWorkflow


@dataclass(frozen=True)
class Dependencies:
    """The resources activities are built with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]


def workflows() -> Sequence[type]:
    return [ClientEngagementWorkflow]


def main_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Database activities on the main task queue."""
    orders = OrderActivities(deps.sessions)
    scoring = ScoringActivities(deps.sessions)
    return [orders.record_order, scoring.rescore_client]


def llm_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Drafting activities on their own queue, with their own concurrency."""
    return []


def send_activities(deps: Dependencies) -> Sequence[Callable[..., Any]]:
    """Sending activities on the rate-limited send queue."""
    return []
