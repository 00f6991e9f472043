"""Building one message and handing it to an SMTP server, with an honest account of what happened.

What matters for at-most-once is *when* a failure happens:

    before DATA (connect, TLS, AUTH, EHLO, MAIL, RCPT)  nothing can have been delivered
    a reply code to DATA or to the message's final "."  the server told us what it did
    no reply after DATA was sent (drop, timeout)         the server may have accepted it

So ``transmit`` raises one of:

    NotDelivered (transient)   4xx replies anywhere, connection errors before DATA
    NotDelivered (permanent)   AUTH refused, 5xx before RCPT (our sender or config is wrong)
    Rejected                   5xx to RCPT or DATA: the recipient address is refused
    Ambiguous                  the connection died or timed out once DATA was sent
"""

from __future__ import annotations

import hashlib
import re
import ssl
from contextlib import suppress
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr

import aiosmtplib
import dkim

from core.settings import SmtpSecurity, SmtpSettings

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class DeliveryError(Exception):
    def __init__(self, reason: str, *, code: int | None = None, phase: str) -> None:
        super().__init__(reason)
        self.code = code
        self.phase = phase


class NotDelivered(DeliveryError):
    """Nothing was delivered; ``permanent`` means retrying will not help until config changes."""

    def __init__(self, reason: str, *, code: int | None = None, phase: str, permanent: bool = False) -> None:
        super().__init__(reason, code=code, phase=phase)
        self.permanent = permanent


class AuthRefused(NotDelivered):
    """The server refused our credentials: nothing goes out until the configuration changes."""

    def __init__(self, *, code: int | None, phase: str) -> None:
        super().__init__("SMTP authentication refused", code=code, phase=phase, permanent=True)


class Rejected(DeliveryError):
    """The server refused the recipient or the message for good (5xx)."""


class Ambiguous(DeliveryError):
    """The message was on the wire and no verdict came back."""


def sender_domain(from_address: str) -> str:
    address = parseaddr(from_address)[1]
    return address.rpartition("@")[2] or "rekindle.localhost"


def message_id(email_id: str, from_address: str) -> str:
    """A Message-ID stable across retries: the email id (hashed if it is not a safe atom)."""
    local = email_id if _SAFE_ID.match(email_id) else hashlib.sha256(email_id.encode()).hexdigest()[:32]
    return f"<{local}@{sender_domain(from_address)}>"


def build_message(
    *,
    settings: SmtpSettings,
    to_address: str,
    subject: str,
    text: str,
    html: str,
    msg_id: str,
    unsubscribe_link: str,
    unsubscribe_token: str,
) -> EmailMessage:
    """Multipart text + HTML with the RFC 8058 one-click unsubscribe headers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = settings.from_address
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = msg_id
    mailto = f"mailto:{settings.unsubscribe_mailto}?subject=unsubscribe-{unsubscribe_token}"
    message["List-Unsubscribe"] = f"<{unsubscribe_link}>, <{mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


# What DKIM covers: who it is from and to, what it says, and the unsubscribe headers (RFC 8058
# asks for List-Unsubscribe and List-Unsubscribe-Post to be signed).
DKIM_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
]


def wire_bytes(settings: SmtpSettings, message: EmailMessage) -> bytes:
    """The message as sent: DKIM-signed when a key is configured. Raises ``ValueError`` when
    signing fails (a bad key), so nothing unsigned leaves when signing was asked for."""
    data = message.as_bytes()
    if settings.dkim_private_key is None:
        return data
    domain = settings.dkim_domain or sender_domain(settings.from_address)
    try:
        signature: bytes = dkim.sign(
            data,
            settings.dkim_selector.encode(),
            domain.encode(),
            settings.dkim_private_key.get_secret_value().encode(),
            include_headers=DKIM_HEADERS,
        )
    except (dkim.DKIMException, ValueError) as exc:
        raise ValueError(f"DKIM signing failed ({type(exc).__name__})") from None
    return signature + data


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    if settings.tls_ca_path is None:
        return None
    return ssl.create_default_context(cafile=str(settings.tls_ca_path))


def client(settings: SmtpSettings) -> aiosmtplib.SMTP:
    """An SMTP client for the configured server: plain, STARTTLS or implicit TLS, optional AUTH."""
    return aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == SmtpSecurity.TLS,
        start_tls=settings.security == SmtpSecurity.STARTTLS,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        timeout=settings.timeout_seconds,
        tls_context=_tls_context(settings),
        local_hostname=settings.helo_hostname or sender_domain(settings.from_address),
    )


def _classify(exc: Exception, phase: str) -> DeliveryError:
    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return AuthRefused(code=code, phase=phase)
    if code is not None and 400 <= code < 500:
        return NotDelivered(f"temporary SMTP reply {code} at {phase}", code=code, phase=phase)
    if code is not None and code >= 500:
        if phase in ("rcpt", "data"):
            return Rejected(f"permanent SMTP reply {code} at {phase}", code=code, phase=phase)
        return NotDelivered(f"SMTP reply {code} at {phase}", code=code, phase=phase, permanent=True)
    if phase == "data":
        return Ambiguous(f"no reply after DATA ({type(exc).__name__})", phase=phase)
    return NotDelivered(f"SMTP connection failed at {phase} ({type(exc).__name__})", phase=phase)


async def transmit(settings: SmtpSettings, message: EmailMessage | bytes, recipient: str) -> str:
    """Deliver ``message`` (or its wire bytes) to ``recipient``; the server's final reply, or a
    ``DeliveryError``."""
    data = message if isinstance(message, bytes) else message.as_bytes()
    smtp = client(settings)
    sender = parseaddr(settings.from_address)[1]
    phase = "connect"
    try:
        await smtp.connect()  # TLS, STARTTLS and AUTH happen here
        phase = "mail"
        await smtp.mail(sender)
        phase = "rcpt"
        await smtp.rcpt(recipient)
        phase = "data"
        response = await smtp.data(data)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise _classify(exc, phase) from None
    finally:
        if smtp.is_connected:
            with suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit()
        smtp.close()
    return f"{response.code} {response.message}"
