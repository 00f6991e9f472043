"""send_email against a real SMTP server (aiosmtpd): the bytes sent, and at most once."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.sending import SendingActivities
from core.contracts.emails import SendEmailInput, SendEmailResult
from core.domain.tokens import verify_unsubscribe_token
from core.runtime.settings import Settings, SmtpSecurity
from core.store.models import Suppression
from tests.activities.factories import NOW, add_client, add_email, events, get_email
from tests.fakes.smtp import make_certificate, smtp_server
from tests.helpers import free_port

BASE = "https://rekindle.example.com"
BODY = 'Hi Anna,\n\nFish & chips <3 and "new" knitwear.\n\nThe Rekindle team'


def _settings(settings: Settings, port: int, **smtp: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp": settings.smtp.model_copy(update={"port": port, "timeout_seconds": 2.0, **smtp}),
            "api": settings.api.model_copy(update={"public_base_url": BASE}),
        }
    )


async def _send(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], email_id: str, client_id: str
) -> SendEmailResult:
    acts = SendingActivities(sessions, settings)
    result: SendEmailResult = await ActivityEnvironment().run(
        acts.send_email, SendEmailInput(email_id=email_id, client_id=client_id)
    )
    return result


async def _approved(sessions: async_sessionmaker[AsyncSession], **client: Any) -> tuple[str, str]:
    cid = await add_client(sessions, **client)
    return await add_email(sessions, cid, status="approved", body_text=BODY, subject="Für Anna & co"), cid


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    content: str = body.get_content()
    return content


async def test_send_email_delivers_the_message_with_its_headers(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions)
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert result.outcome == "sent"
    assert result.message_id == f"<{eid}@rekindle.localhost>"
    (received,) = server.received
    assert received.rcpt_tos == ["anna@example.org"]
    assert received.mail_from == "hello@rekindle.localhost"
    message = received.message()
    assert message["From"] == "Rekindle <hello@rekindle.localhost>"
    assert message["To"] == "anna@example.org"
    assert message["Subject"] == "Für Anna & co"
    assert message["Message-ID"] == result.message_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip().strip("<>") for part in message["List-Unsubscribe"].split(","))
    assert https.startswith(f"{BASE}/u/")
    token = https.removeprefix(f"{BASE}/u/")
    assert verify_unsubscribe_token(token, settings.security.unsubscribe_secret.get_secret_value()) == cid
    assert mailto == f"mailto:unsubscribe@rekindle.localhost?subject=unsubscribe-{token}"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _part(message, "plain"), _part(message, "html")
    assert text.startswith(BODY)
    assert f"Unsubscribe with one click: {https}" in text
    assert "Fish &amp; chips &lt;3 and &#34;new&#34; knitwear." in html
    assert "<3" not in html
    assert f'href="{https}"' in html
    row = await get_email(sessions, eid)
    assert (row.status, row.to_address, row.message_id) == ("sent", "anna@example.org", result.message_id)
    assert row.sent_at is not None
    assert await events(sessions, eid) == ["sending", "sent"]


async def test_send_email_retry_after_sent_does_not_resend(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions)
    with smtp_server() as server:
        first = await _send(_settings(settings, server.port), sessions, eid, cid)
        again = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert (first.outcome, again.outcome, again.message_id) == ("sent", "sent", first.message_id)
    assert len(server.received) == 1


@pytest.mark.parametrize("mode", ["tempfail", "tempfail_rcpt", "refused"])
async def test_send_email_transient_failure_releases_the_claim(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], mode: str
) -> None:
    eid, cid = await _approved(sessions)
    port = free_port()
    if mode == "refused":
        with pytest.raises(ApplicationError) as info:
            await _send(_settings(settings, port), sessions, eid, cid)
    else:
        with smtp_server(mode) as server, pytest.raises(ApplicationError) as info:
            await _send(_settings(settings, server.port), sessions, eid, cid)
    assert (info.value.type, info.value.non_retryable) == ("SmtpTransient", False)
    assert (await get_email(sessions, eid)).status == "approved"
    with smtp_server(port=port) as server:
        result = await _send(_settings(settings, port), sessions, eid, cid)
    assert result.outcome == "sent"
    assert len(server.received) == 1
    assert await events(sessions, eid) == ["sending", "send_retry", "sending", "sent"]


@pytest.mark.parametrize("mode", ["reject", "reject_rcpt"])
async def test_send_email_permanent_rejection_fails_and_suppresses(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], mode: str
) -> None:
    eid, cid = await _approved(sessions)
    with smtp_server(mode) as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
        assert result.outcome == "failed"
        assert "suppressed" in result.detail
        assert (await get_email(sessions, eid)).status == "failed"
        async with sessions() as session:
            reasons = (
                await session.scalars(select(Suppression.reason).where(Suppression.client_id == cid))
            ).all()
        assert reasons == ["bounced"]
        next_id = await add_email(sessions, cid, status="approved")
        later = await _send(_settings(settings, server.port), sessions, next_id, cid)
    assert later.outcome == "suppressed"
    assert len(server.received) == (1 if mode == "reject" else 0)
    assert (await get_email(sessions, next_id)).status == "cancelled"


async def test_send_email_dropped_after_data_is_unknown_and_never_resent(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions)
    with smtp_server("drop") as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
        server.handler.mode = "accept"
        again = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert (result.outcome, again.outcome) == ("unknown", "unknown")
    assert len(server.received) == 1
    assert (await get_email(sessions, eid)).status == "unknown"


async def test_send_email_found_sending_is_marked_unknown(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="sending", sending_at=NOW)
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert result.outcome == "unknown"
    assert server.received == []
    assert (await get_email(sessions, eid)).status == "unknown"
    assert await events(sessions, eid) == ["unknown"]


async def test_send_email_unsubscribed_client_is_suppressed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions, unsubscribed_at=NOW)
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
        again = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert (result.outcome, again.outcome) == ("suppressed", "suppressed")
    assert server.received == []


async def test_send_email_without_an_address_is_cancelled_not_bounced(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions, email=None)
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port), sessions, eid, cid)
        again = await _send(_settings(settings, server.port), sessions, eid, cid)
    assert (result.outcome, again.outcome) == ("cancelled", "cancelled")
    assert server.received == []
    assert (await get_email(sessions, eid)).status == "cancelled"
    async with sessions() as session:
        assert (await session.scalar(select(Suppression).where(Suppression.client_id == cid))) is None


@pytest.mark.parametrize(
    ("status", "error"), [("pending_approval", "EmailNotApproved"), (None, "EmailNotFound")]
)
async def test_send_email_refuses_what_is_not_approved(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], status: str | None, error: str
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status=status) if status else "missing"
    with pytest.raises(ApplicationError) as info:
        await _send(_settings(settings, free_port()), sessions, eid, cid)
    assert (info.value.type, info.value.non_retryable) == (error, True)


@pytest.mark.parametrize("security", [SmtpSecurity.STARTTLS, SmtpSecurity.TLS])
async def test_send_email_over_tls_with_auth(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path, security: SmtpSecurity
) -> None:
    cert = make_certificate(tmp_path)
    eid, cid = await _approved(sessions)
    with smtp_server(security=security.value, cert=cert, login=("rekindle", "pw")) as server:
        tls = _settings(
            settings,
            server.port,
            security=security,
            tls_ca_path=cert[0],
            username="rekindle",
            password=SecretStr("pw"),
        )
        result = await _send(tls, sessions, eid, cid)
        assert result.outcome == "sent"
        assert len(server.received) == 1
        other, _ = await _approved(sessions)
        wrong = tls.model_copy(update={"smtp": tls.smtp.model_copy(update={"password": SecretStr("bad")})})
        with pytest.raises(ApplicationError) as info:
            await _send(wrong, sessions, other, cid)
    assert (info.value.type, info.value.non_retryable) == ("SmtpAuthFailed", True)
    assert (await get_email(sessions, other)).status == "approved"
