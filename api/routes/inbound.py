"""Mail that comes back: the ``mailto:`` unsubscribe address and bounce messages (RFC 3464 DSNs).

Two doors, one behaviour. ``/v1/webhooks/inbound-mail`` takes a raw RFC 5322 message (the dev
SMTP sink forwards what it receives there; in production any MTA pipe or relay can POST it);
``/v1/webhooks/postmark-inbound`` takes Postmark's inbound JSON. A DSN becomes delivery feedback;
a message whose subject carries our signed unsubscribe token unsubscribes the client the token
names (source ``mailto``). Anything else is acknowledged and ignored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.consent import opt_out
from api.deps import AppState, StateDep
from api.feedback import apply_events
from api.feedback_schemas import InboundReply
from api.routes.feedback import RESPONSES, parse_json
from api.webhook_auth import require_basic_auth
from core.domain.feedback import inbound, postmark
from core.domain.tokens import verify_unsubscribe_token

router = APIRouter(prefix="/v1/webhooks", tags=["delivery feedback"])
# the raw RFC 5322 bytes; documented as octet-stream, which every HTTP client can send as is
RAW_MAIL = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
RAW_JSON = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}
INBOUND_RESPONSES = {
    200: {
        "content": {"application/json": {"example": {"status": "unsubscribed", "events": 0, "recorded": 0}}}
    },
    **RESPONSES,
}


@router.post(
    "/inbound-mail", responses=INBOUND_RESPONSES, summary="A raw inbound message", openapi_extra=RAW_MAIL
)
async def inbound_mail(request: Request, state: StateDep) -> InboundReply:
    """A DSN or a mail to the unsubscribe address, as raw RFC 5322 bytes (basic auth)."""
    settings = state.settings.feedback
    require_basic_auth(request, settings.inbound_username, settings.inbound_password, "inbound-mail")
    raw = await request.body()
    message = inbound.parse(raw)
    events = inbound.dsn_events(message, raw)
    if events:
        outcomes = await apply_events(state, events)
        return InboundReply(status="dsn", events=len(events), recorded=sum(o.recorded for o in outcomes))
    if inbound.is_dsn(message):
        return InboundReply(status="dsn")
    return await _unsubscribe(state, inbound.message_token(message))


@router.post(
    "/postmark-inbound", responses=INBOUND_RESPONSES, summary="Postmark inbound mail", openapi_extra=RAW_JSON
)
async def postmark_inbound(request: Request, state: StateDep) -> InboundReply:
    """Postmark's inbound webhook for the unsubscribe address (the Postmark credentials)."""
    settings = state.settings.feedback
    require_basic_auth(request, settings.postmark_username, settings.postmark_password, "Postmark")
    subject, text = postmark.inbound_subject_and_text(parse_json(await request.body()))
    return await _unsubscribe(state, inbound.unsubscribe_token(subject, text))


async def _unsubscribe(state: AppState, token: str | None) -> InboundReply:
    secret = state.settings.security.unsubscribe_secret.get_secret_value()
    client_id = verify_unsubscribe_token(token, secret) if token else None
    if client_id is None:
        return InboundReply(status="ignored")
    await opt_out(state, client_id, source="mailto", signal_source="mailto")
    return InboundReply(status="unsubscribed")
