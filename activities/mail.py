"""Building one message and handing it to an SMTP server, with an honest account of what happened.

What matters for at-most-once is *when* a failure happens:

    before DATA (connect, TLS, AUTH, EHLO, MAIL, RCPT)  nothing can have been delivered
    a reply code to DATA or to the message's final "."  the server told us what it did
    no reply after DATA was sent (drop, timeout)         the server may have accepted it

So ``transmit`` and ``SmtpPool.transmit`` raise one of:

    NotDelivered (transient)   4xx replies anywhere, connection errors before DATA
    NotDelivered (permanent)   AUTH refused, 5xx before RCPT (our sender or config is wrong)
    Rejected                   5xx to RCPT or DATA: the recipient address is refused
    Ambiguous                  the connection died or timed out once DATA was sent
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import cast

import aiosmtplib
import dkim

from core.runtime.settings import SmtpSecurity, SmtpSettings

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


_WIRE = compat32.clone(linesep="\r\n")
# Bodies as quoted-printable UTF-8: readable on the wire, lines within RFC 5322's limits.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _header_value(name: str, value: str) -> str:
    """A header value as written: refused when it would break out of its line (CR, LF),
    RFC 2047-encoded when it is not ASCII."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header cannot contain a line break")
    if value.isascii():
        return value
    # A compat32 message takes a Header where typeshed says str; the generator encodes it.
    return cast(str, Header(value, "utf-8", header_name=name))


def recipient_header(address: str) -> str:
    """The To header's address: an ASCII local part (no SMTPUTF8) and an IDNA-encoded domain."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or not local.isascii() or any(c in address for c in "\r\n<>,"):
        raise ValueError("the recipient address cannot be written in a header")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise ValueError("the recipient address cannot be written in a header") from None


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
) -> Message:
    """Multipart text + HTML with the RFC 8058 one-click unsubscribe headers. Raises
    ``ValueError`` for what cannot be written safely (a line break in a header, an address
    that needs SMTPUTF8).

    Built with the ``email.mime`` classes: three times cheaper than ``EmailMessage``, whose
    header parsing was half of the send activity's CPU (bench/send_rate.py).
    """
    message = MIMEMultipart("alternative")
    name, sender = parseaddr(settings.from_address)
    message["From"] = formataddr((name, sender), charset="utf-8")
    message["To"] = recipient_header(to_address)
    message["Subject"] = _header_value("Subject", subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = _header_value("Message-ID", msg_id)
    mailto = f"mailto:{settings.unsubscribe_mailto}?subject=unsubscribe-{unsubscribe_token}"
    message["List-Unsubscribe"] = _header_value("List-Unsubscribe", f"<{unsubscribe_link}>, <{mailto}>")
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(_text_part(text, "plain"))
    message.attach(_text_part(html, "html"))
    return message


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)  # adds charset="utf-8" and the transfer encoding
    return part


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


def wire_bytes(settings: SmtpSettings, message: Message) -> bytes:
    """The message as sent (CRLF line ends): DKIM-signed when a key is configured. Raises
    ``ValueError`` when signing fails (a bad key), so nothing unsigned leaves when signing was
    asked for."""
    data = message.as_bytes(policy=_WIRE)
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


async def _deliver(smtp: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes) -> str:
    """One mail transaction on a connected client; ``DeliveryError`` names the phase that failed."""
    phase = "mail"
    try:
        await smtp.mail(sender)
        phase = "rcpt"
        await smtp.rcpt(recipient)
        phase = "data"
        response = await smtp.data(data)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise _classify(exc, phase) from None
    return f"{response.code} {response.message}"


async def _connect(settings: SmtpSettings) -> aiosmtplib.SMTP:
    smtp = client(settings)
    try:
        await smtp.connect()  # TLS, STARTTLS and AUTH happen here
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        smtp.close()
        raise _classify(exc, "connect") from None
    return smtp


async def _hang_up(smtp: aiosmtplib.SMTP, *, polite: bool) -> None:
    """QUIT when the session is healthy (``polite``), then close the socket whatever happens."""
    if polite and smtp.is_connected:
        with suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await smtp.quit()
    smtp.close()


async def transmit(settings: SmtpSettings, message: Message | bytes, recipient: str) -> str:
    """Deliver ``message`` (or its wire bytes) to ``recipient`` on a connection of its own; the
    server's final reply, or a ``DeliveryError``."""
    data = message if isinstance(message, bytes) else message.as_bytes(policy=_WIRE)
    smtp = await _connect(settings)
    try:
        return await _deliver(smtp, parseaddr(settings.from_address)[1], recipient, data)
    finally:
        await _hang_up(smtp, polite=True)


@dataclass
class _Connection:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


class SmtpPool:
    """The worker's SMTP connections, reused from one message to the next.

    At most ``pool_size`` connections are open at once (a sender waits for one); a connection
    carries at most ``messages_per_connection`` messages and is dropped after ``idle_seconds``
    unused, before a server's own idle timeout would. After any failure the connection is
    closed, never reused. At-most-once is unchanged: a connection that has been idle in the
    pool may have been closed by the server, so when a *reused* connection fails before DATA
    (nothing can have been delivered) the message is tried once more on a new connection; a
    failure after DATA is ``Ambiguous`` as ever. ``close()`` (the worker's shutdown) says QUIT
    to every idle connection.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._sender = parseaddr(settings.from_address)[1]
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._idle: list[_Connection] = []
        self._closed = False

    async def transmit(self, message: bytes, recipient: str) -> str:
        """Deliver ``message`` to ``recipient``; the server's final reply, or a ``DeliveryError``."""
        async with self._slots:
            connection = await self._take()
            if connection is not None:
                try:
                    return await self._send(connection, message, recipient)
                except NotDelivered:
                    pass  # nothing was delivered: the idle connection may have gone stale
            connection = _Connection(await _connect(self._settings))
            return await self._send(connection, message, recipient)

    async def _send(self, connection: _Connection, message: bytes, recipient: str) -> str:
        try:
            reply = await _deliver(connection.smtp, self._sender, recipient, message)
        except DeliveryError:
            await _hang_up(connection.smtp, polite=False)
            raise
        connection.sent += 1
        if self._closed or connection.sent >= self._settings.messages_per_connection:
            await _hang_up(connection.smtp, polite=True)
        else:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        return reply

    async def _take(self) -> _Connection | None:
        """The most recently used idle connection still worth using; older ones are closed."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.smtp.is_connected and now - connection.idle_since < self._settings.idle_seconds:
                return connection
            await _hang_up(connection.smtp, polite=True)
        return None

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_hang_up(connection.smtp, polite=True) for connection in idle))
