"""Shared by the delivery-feedback tests: settings with every provider configured, a client
with a sent email, and what the database then holds."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client as TemporalClient

from activities.mail import message_id
from core.contracts.messages import client_workflow_id
from core.runtime.settings import FeedbackSettings, Settings
from core.store.db import utcnow
from core.store.models import ConsentEvent, DeliveryEvent, EmailEvent, Suppression
from tests.fakes.providers import FakeSns, SendGridSigner
from tests.helpers import unique_id
from tests.integration.api_factories import add_client, add_email

POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "pm-webhook-secret-for-tests"
INBOUND_PASSWORD = "inbound-secret-for-tests"


def feedback_settings(settings: Settings, sns: FakeSns | None, sendgrid: SendGridSigner | None) -> Settings:
    feedback = FeedbackSettings(
        sns_extra_url_prefixes=[f"{sns.base_url}/"] if sns else [],
        sendgrid_public_key=sendgrid.public_key if sendgrid else None,
        postmark_username=POSTMARK_USER,
        postmark_password=SecretStr(POSTMARK_PASSWORD),
        inbound_password=SecretStr(INBOUND_PASSWORD),
        soft_bounce_limit=2,
    )
    return settings.model_copy(update={"feedback": feedback})


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclass(frozen=True)
class Sent:
    client_id: str
    email_id: str
    address: str
    message_id: str


async def sent_email(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Sent:
    """A client and an email Rekindle sent them, with the Message-ID the sender sets."""
    client_id, email_id = unique_id("fb"), unique_id("e")
    address = f"{client_id}@example.com"
    msg_id = message_id(email_id, settings.smtp.from_address)
    await add_client(sessions, client_id, email=address)
    await add_email(
        sessions,
        email_id,
        client_id,
        status="sent",
        to_address=address,
        message_id=msg_id,
        sending_at=utcnow(),
        sent_at=utcnow(),
    )
    return Sent(client_id, email_id, address, msg_id)


async def delivery_events(
    sessions: async_sessionmaker[AsyncSession], client_id: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(DeliveryEvent.provider, DeliveryEvent.kind)
            .where(DeliveryEvent.client_id == client_id)
            .order_by(DeliveryEvent.id)
        )
        return [(r[0], r[1]) for r in rows]


async def count_all_delivery_events(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0)


async def suppression_reasons(sessions: async_sessionmaker[AsyncSession], client_id: str) -> set[str]:
    async with sessions() as session:
        return set(
            await session.scalars(select(Suppression.reason).where(Suppression.client_id == client_id))
        )


async def timeline(sessions: async_sessionmaker[AsyncSession], email_id: str) -> list[str]:
    async with sessions() as session:
        query = select(EmailEvent.kind).where(EmailEvent.email_id == email_id).order_by(EmailEvent.at)
        return list(await session.scalars(query))


async def consent_sources(
    sessions: async_sessionmaker[AsyncSession], client_id: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(ConsentEvent.action, ConsentEvent.source)
            .where(ConsentEvent.client_id == client_id)
            .order_by(ConsentEvent.id)
        )
        return [(r[0], r[1]) for r in rows]


async def signals(temporal: TemporalClient, client_id: str) -> list[str]:
    handle = temporal.get_workflow_handle(client_workflow_id(client_id))
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
