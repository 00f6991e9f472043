"""The ``draft_email`` activity: read the client, draft (LLM or template), store the draft once.

Idempotent by ``email_id``: a retry after the row was written returns the stored draft without
drafting again (no second LLM bill, no second row), and an email already decided (approved,
cancelled, ...) is never overwritten.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import openai
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.draft_model import Draft, DraftContext, EarlierEmail, RecentOrder
from activities.llm_drafter import LlmDrafter
from activities.rendering import render_html, unsubscribe_url
from activities.template_drafter import draft_from_template
from core.contracts.emails import DraftEmailInput, DraftEmailResult, GuardrailVerdict
from core.contracts.messages import ACTIVITY_DRAFT_EMAIL
from core.domain.guardrails import GuardrailPolicy, plausible_first_name
from core.domain.policy_document import Policy
from core.runtime.settings import Settings
from core.store import timeline
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, Email, Order
from core.store.policy_store import current_policy, policy_from_settings
from core.store.timeline import TimelineEvent

RECENT_ORDERS = 5


NO_EMAIL_ADDRESS = "NoEmailAddress"


def guardrail_policy(settings: Settings) -> GuardrailPolicy:
    """The offer and the URL prefixes a draft may mention, from settings."""
    return GuardrailPolicy(offer=settings.policy.offer, allowed_url_prefixes=[settings.api.public_base_url])


def live_guardrail_policy(
    policy: Policy, tier: str, locale: str | None, public_base_url: str
) -> GuardrailPolicy:
    """What a draft for ``tier`` may mention under the live policy: the tier's offer, our own
    links and the policy's call-to-action links, in the client's language."""
    return GuardrailPolicy(
        offer=policy.tiers.of(tier).offer,
        allowed_url_prefixes=[public_base_url, *policy.cta_links],
        locale=policy.locale_for(locale),
    )


def _earlier(rows: list[Email]) -> list[EarlierEmail]:
    return [
        EarlierEmail(
            subject=row.subject or "",
            body_text=row.body_text or "",
            sent_on=(row.sent_at or row.created_at).date() if (row.sent_at or row.created_at) else None,
        )
        for row in rows
    ]


def _recent(orders: list[Order]) -> list[RecentOrder]:
    recent = []
    for order in orders:
        items = [i for i in order.items if isinstance(i, dict)]
        recent.append(
            RecentOrder(
                placed_on=order.placed_at.date(),
                skus=[str(i.get("sku")) for i in items if i.get("sku")],
                categories=[str(i.get("category")) for i in items if i.get("category")],
            )
        )
    return recent


def result_from_row(row: Email) -> DraftEmailResult:
    """The activity's answer, from what is stored (so a retry answers the same)."""
    stored: dict[str, Any] = row.guardrails or {}
    return DraftEmailResult(
        email_id=row.id,
        subject=row.subject or "",
        preheader=row.preheader or "",
        body_text=row.body_text or "",
        body_html=row.body_html or "",
        generator=row.generator or "",
        model=row.model,
        prompt_version=row.prompt_version or "",
        guardrails=[GuardrailVerdict.model_validate(v) for v in stored.get("verdicts", [])],
        fell_back=bool(stored.get("fell_back", False)),
        status=row.status,
    )


class DraftingActivities:
    """Drafting, built with the session factory and settings (and, in tests, an LLM client)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        llm_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._seed = policy_from_settings(settings.policy)
        self._llm = LlmDrafter(settings.llm, llm_client) if settings.llm.api_key else None

    @activity.defn(name=ACTIVITY_DRAFT_EMAIL)
    async def draft_email(self, input: DraftEmailInput) -> DraftEmailResult:
        """Draft the email ``input.email_id`` once and store it as ``pending_approval``."""
        async with self._sessions() as session:
            existing = await session.get(Email, input.email_id)
            if existing is not None:
                return result_from_row(existing)
            ctx = await self._context(session, input)
        ctx = replace(ctx, **await self._campaign(input, ctx.locale))
        draft = await self._llm.draft(ctx) if self._llm else draft_from_template(ctx)
        return await self._store(input, draft)

    async def close(self) -> None:
        """Close the LLM client's connection pool."""
        if self._llm is not None:
            await self._llm.close()

    async def _context(self, session: AsyncSession, input: DraftEmailInput) -> DraftContext:
        client = await session.get(Client, input.client_id)
        if client is None:
            raise ApplicationError("no such client", type="ClientNotFound", non_retryable=True)
        if not client.email:  # nobody to send it to: the workflow waits for a profile with one
            # Benign: an expected state, so the SDK logs it at debug, not with a traceback per client.
            raise ApplicationError(
                "the client has no email address",
                type=NO_EMAIL_ADDRESS,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            )
        orders = (
            await session.scalars(
                select(Order)
                .where(Order.client_id == input.client_id)
                .order_by(Order.placed_at.desc())
                .limit(RECENT_ORDERS)
            )
        ).all()
        tenure = (input.created_at - client.first_order_at).days if client.first_order_at else None
        return DraftContext(
            email_id=input.email_id,
            client_id=input.client_id,
            first_name=plausible_first_name(client.first_name),
            tier=input.tier,
            segment=input.segment,
            reasons=list(input.reasons),
            tenure_days=tenure,
            order_count=client.order_count,
            recent_orders=_recent(list(orders)),
            style_notes=client.style_notes,
            policy=guardrail_policy(self._settings),
            locale=client.locale or "en",
            touch=input.touch,
            earlier=_earlier(await self._episode(session, input)),
        )

    async def _episode(self, session: AsyncSession, input: DraftEmailInput) -> list[Email]:
        if not input.episode_email_ids:
            return []
        query = (
            select(Email)
            .where(Email.id.in_(input.episode_email_ids), Email.client_id == input.client_id)
            .order_by(Email.created_at)
        )
        return list(await session.scalars(query))

    async def _campaign(self, input: DraftEmailInput, locale: str | None) -> dict[str, Any]:
        """The live policy's part of the context: language, offer, links."""
        live = (await current_policy(self._sessions, self._seed)).policy
        policy = live_guardrail_policy(live, input.tier, locale, self._settings.api.public_base_url)
        return {
            "policy": policy,
            "locale": policy.locale,
            "cta_link": live.cta_links[0] if live.cta_links else None,
        }

    async def _store(self, input: DraftEmailInput, draft: Draft) -> DraftEmailResult:
        link = unsubscribe_url(
            self._settings.api.public_base_url,
            input.client_id,
            self._settings.security.unsubscribe_secret.get_secret_value(),
        )
        async with transaction(self._sessions) as session:
            dialect = session.get_bind().dialect.name
            await session.execute(
                insert_ignoring_conflicts(
                    dialect,
                    Email.__table__,
                    _row(input, draft, link, self._settings.smtp.postal_address),
                    ["id"],
                )
            )
            await timeline.record(session, _event(input, draft))
            row = await session.get(Email, input.email_id)
            assert row is not None
            return result_from_row(row)


def _row(input: DraftEmailInput, draft: Draft, link: str, postal_address: str | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": input.email_id,
        "client_id": input.client_id,
        "status": "pending_approval",
        "subject": draft.subject,
        "preheader": draft.preheader,
        "body_text": draft.body_text,
        "body_html": render_html(draft.subject, draft.preheader, draft.body_text, link, postal_address),
        "generator": draft.generator,
        "model": draft.model,
        "prompt_version": draft.prompt_version,
        "token_usage": draft.token_usage,
        "guardrails": {
            "verdicts": [v.model_dump() for v in draft.verdicts],
            "fell_back": draft.fell_back,
            "fallback_reason": draft.fallback_reason,
            "attempts": draft.attempts,
        },
        "holdout": False,
        "created_at": _aware(input.created_at),
        "updated_at": now,
    }


def _event(input: DraftEmailInput, draft: Draft) -> TimelineEvent:
    detail = {"model": draft.model, "fell_back": draft.fell_back}
    return TimelineEvent(
        input.email_id, input.client_id, "drafted", _aware(input.created_at), draft.generator, detail
    )


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ApplicationError("timestamps must carry a time zone", type="BadInput", non_retryable=True)
    return when
