"""A real SMTP server (aiosmtpd, on its own thread) that answers as a test tells it to.

``mode`` decides what happens to a message: ``accept`` (250), ``tempfail`` (451 after DATA),
``reject`` (550 after DATA), ``reject_rcpt`` (550 to RCPT), ``tempfail_rcpt`` (451 to RCPT),
``drop`` (the connection is cut after the message arrived, no reply) or ``stall`` (the
message arrived; the reply waits until ``release()``). Every message that reached DATA is
kept in ``received`` with its raw bytes and the client's address and port (one port, one
connection), so tests assert on what went over the wire. ``hang_up_at_next_mail`` answers the
next MAIL with 421 and closes the connection, as a server does with a connection it timed out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port

MODES = ("accept", "tempfail", "reject", "reject_rcpt", "tempfail_rcpt", "drop", "stall")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    at: float
    peer: tuple[str, int] = ("", 0)

    def message(self) -> EmailMessage:
        parsed: Any = message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)
        return parsed  # type: ignore[no-any-return]


@dataclass
class FakeSmtpHandler:
    mode: str = "accept"
    # modes for the next transactions, one each; then ``mode`` again
    next_modes: list[str] = field(default_factory=list)
    current: str = "accept"
    # seconds between receiving a message and replying (widens the "delivered, not yet
    # confirmed" window that crash tests aim at)
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    data_started: threading.Event = field(default_factory=threading.Event)
    hang_up_at_next_mail: bool = False
    quits: int = 0
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self._released.set()

    async def handle_MAIL(
        self, server: SMTP, _session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.hang_up_at_next_mail:
            self.hang_up_at_next_mail = False
            transport: Any = server.transport
            asyncio.get_running_loop().call_soon(transport.close)
            return "421 4.4.2 idle too long, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_QUIT(self, _server: SMTP, _session: Session, _envelope: Envelope) -> str:
        self.quits += 1
        return "221 Bye"

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        self.current = self.next_modes.pop(0) if self.next_modes else self.mode
        if self.current == "reject_rcpt":
            return "550 5.1.1 mailbox unavailable"
        if self.current == "tempfail_rcpt":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        address: Any = session.peer
        peer = (str(address[0]), int(address[1]))
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, time.monotonic(), peer)
        )
        self.data_started.set()
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.current == "stall":
            while not self._released.is_set():
                await asyncio.sleep(0.02)
        if self.current == "drop":
            transport: Any = server.transport
            transport.abort()  # cut the connection: the client never hears a reply
            return "250 never seen"
        return {
            "tempfail": "451 4.3.0 try again later",
            "reject": "550 5.7.1 message refused",
        }.get(self.current, "250 2.0.0 queued")


class Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._login = (username.encode(), password.encode())

    def __call__(self, _server: SMTP, _session: Session, _env: Envelope, _mech: str, data: Any) -> AuthResult:
        ok = (getattr(data, "login", None), getattr(data, "password", None)) == self._login
        return AuthResult(success=ok, handled=False)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost); returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class FakeSmtp:
    handler: FakeSmtpHandler
    port: int

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@contextmanager
def smtp_server(
    mode: str = "accept",
    *,
    security: str = "plain",
    cert: tuple[Path, Path] | None = None,
    login: tuple[str, str] | None = None,
    port: int | None = None,
) -> Iterator[FakeSmtp]:
    """Run the fake server for the ``with`` block; ``security`` is plain, starttls or tls."""
    assert mode in MODES, mode
    handler = FakeSmtpHandler(mode=mode)
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    kwargs: dict[str, Any] = {}
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if login is not None:
        kwargs.update(authenticator=Authenticator(*login), auth_require_tls=security == "starttls")
    port = port or free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if security == "tls" else None,
        ready_timeout=10,
        **kwargs,
    )
    controller.start()
    try:
        yield FakeSmtp(handler=handler, port=port)
    finally:
        handler.release()
        controller.stop()
