"""What every sent message carries by law and by settings: the postal address in both parts'
footers, and a DKIM signature a receiver can verify (dkimpy, DNS answered by the test)."""

from __future__ import annotations

import base64
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from core.domain.guardrails import check_footer
from core.runtime.settings import Settings
from tests.activities.test_sending import _approved, _part, _send, _settings
from tests.fakes.smtp import smtp_server

POSTAL = "Rekindle Ltd\n  12 Harbour Street\nBristol BS1 4XE, UK"
POSTAL_LINE = "Rekindle Ltd, 12 Harbour Street, Bristol BS1 4XE, UK"


def _key() -> tuple[str, bytes]:
    """A private key (PEM) and the DNS TXT record that publishes its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


async def test_sent_message_has_the_postal_address_in_both_footers(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions)
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port, postal_address=POSTAL), sessions, eid, cid)
    assert result.outcome == "sent"
    message = server.received[0].message()
    assert _part(message, "plain").rstrip().endswith(POSTAL_LINE)
    assert POSTAL_LINE in _part(message, "html")


async def test_sent_message_is_dkim_signed_and_verifies(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    pem, record = _key()
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == b"mail2026._domainkey.rekindle.localhost." else None

    eid, cid = await _approved(sessions)
    smtp: dict[str, Any] = {"dkim_private_key": SecretStr(pem), "dkim_selector": "mail2026"}
    with smtp_server() as server:
        result = await _send(_settings(settings, server.port, **smtp), sessions, eid, cid)
    assert result.outcome == "sent"
    raw = server.received[0].raw
    assert raw.startswith(b"DKIM-Signature: ")
    assert dkim.verify(raw, dnsfunc=dns)
    assert asked == [b"mail2026._domainkey.rekindle.localhost."]
    tampered = raw.replace(b"Subject: ", b"Subject: RE: ", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


async def test_a_bad_dkim_key_sends_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eid, cid = await _approved(sessions)
    smtp = {
        "dkim_private_key": SecretStr("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----")
    }
    with smtp_server() as server, pytest.raises(ApplicationError) as raised:
        await _send(_settings(settings, server.port, **smtp), sessions, eid, cid)
    assert raised.value.type == "BadMessage"
    assert server.received == []


def test_footer_guardrail_needs_the_link_and_the_address_in_both_parts() -> None:
    link = "https://x/u/t"
    good = check_footer(
        f"Hi\n--\n{link}\n{POSTAL_LINE}\n", f'<a href="{link}">x</a> {POSTAL_LINE}', link, POSTAL
    )
    assert good.passed
    bad = check_footer(f"Hi\n--\n{link}\n", f'<a href="{link}">x</a>', link, POSTAL)
    assert not bad.passed
    assert bad.detail == "the text part has no postal address; the html part has no postal address"
    assert check_footer("Hi", "<p>Hi</p>", link, None).detail == (
        "the text part has no unsubscribe link; the html part has no unsubscribe link"
    )
