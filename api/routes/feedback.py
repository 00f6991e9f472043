"""Delivery-feedback webhooks: Amazon SES through SNS, SendGrid's Event Webhook, Postmark.

Each checks the provider's own proof first (SNS and SendGrid signatures, Postmark's basic-auth
credentials): a request that fails it gets 401 and nothing is recorded. A provider without
configured credentials answers 404. What happens to each event is in ``api/feedback.py``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, Request

from api.deps import AppState, StateDep
from api.errors import ERROR_RESPONSES, ApiError, documented
from api.feedback import apply_events
from api.feedback_schemas import FeedbackReply
from api.webhook_auth import not_configured, require_basic_auth
from core.domain.feedback import BadPayload, BadSignature, FeedbackEvent, postmark, sendgrid, sns

router = APIRouter(prefix="/v1/webhooks", tags=["delivery feedback"])
MAX_CERTIFICATES = 32
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {"status": "accepted", "events": 2, "recorded": 2}}}},
    401: documented("The signature or credentials do not verify; nothing recorded", "bad_signature", "…"),
    404: documented("This provider is not configured", "not_found", "the SendGrid webhook is not configured"),
    **ERROR_RESPONSES,
}
RAW_JSON = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}
# An SNS message names its type; anything else about it is proven by its signature (401).
SNS_JSON = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["Type"],
                    "properties": {"Type": {"enum": sorted(sns.TYPES)}},
                }
            }
        },
    }
}


async def _accept(state: AppState, events: list[FeedbackEvent]) -> FeedbackReply:
    outcomes = await apply_events(state, events)
    return FeedbackReply(status="accepted", events=len(events), recorded=sum(o.recorded for o in outcomes))


@router.post("/ses", responses=RESPONSES, summary="Amazon SES notifications via SNS", openapi_extra=SNS_JSON)
async def ses(request: Request, state: StateDep) -> FeedbackReply:
    """An SNS HTTPS subscription: confirms itself, then takes SES bounce/complaint/delivery notices."""
    message = sns.parse_envelope(await request.body())
    prefixes = state.settings.feedback.sns_extra_url_prefixes
    certificate = await _certificate(state, sns.trusted_url(message.get("SigningCertURL"), prefixes))
    sns.verify(message, certificate)
    allowed = state.settings.feedback.sns_topic_arns
    if allowed and message.get("TopicArn") not in allowed:
        raise ApiError(403, "forbidden", "notifications from this SNS topic are not accepted")
    if message["Type"] == "SubscriptionConfirmation":
        await _get(state, sns.trusted_url(message.get("SubscribeURL"), prefixes), "the subscription")
        return FeedbackReply(status="subscription_confirmed")
    if message["Type"] != "Notification":
        return FeedbackReply(status="ignored")
    return await _accept(state, sns.ses_events(message))


async def _certificate(state: AppState, url: str) -> bytes:
    cached = state.sns_certificates.get(url)
    if cached is None:
        cached = await _get(state, url, "the signing certificate")
        if len(state.sns_certificates) >= MAX_CERTIFICATES:
            state.sns_certificates.clear()
        state.sns_certificates[url] = cached
    return cached


async def _get(state: AppState, url: str, what: str) -> bytes:
    assert state.http is not None
    try:
        response = await state.http.get(url)
    except httpx.HTTPError:
        raise ApiError(503, "upstream_unavailable", f"could not fetch {what}; retry later") from None
    if response.status_code != 200:
        raise BadSignature(f"could not fetch {what} (HTTP {response.status_code})")
    return response.content


@router.post("/sendgrid", responses=RESPONSES, summary="SendGrid Event Webhook", openapi_extra=RAW_JSON)
async def sendgrid_events(request: Request, state: StateDep) -> FeedbackReply:
    """A signed batch of SendGrid events (delivered, bounce, spamreport; others are skipped)."""
    settings = state.settings.feedback
    if not settings.sendgrid_public_key:
        raise not_configured("SendGrid")
    body = await request.body()
    sendgrid.verify(
        sendgrid.load_public_key(settings.sendgrid_public_key),
        body,
        request.headers.get(sendgrid.SIGNATURE_HEADER),
        request.headers.get(sendgrid.TIMESTAMP_HEADER),
        settings.sendgrid_max_age_seconds,
    )
    return await _accept(state, sendgrid.events(body))


@router.post(
    "/postmark",
    responses=RESPONSES,
    summary="Postmark bounce, spam-complaint and delivery webhooks",
    openapi_extra=RAW_JSON,
)
async def postmark_events(request: Request, state: StateDep) -> FeedbackReply:
    """One Postmark record, authenticated by the basic-auth credentials in the webhook URL."""
    settings = state.settings.feedback
    require_basic_auth(request, settings.postmark_username, settings.postmark_password, "Postmark")
    events = postmark.events(parse_json(await request.body()))
    return await _accept(state, events) if events else FeedbackReply(status="ignored")


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        raise BadPayload("body: not JSON") from None
