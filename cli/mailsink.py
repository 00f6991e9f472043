"""A local SMTP sink for development: accepts every message and keeps it in a Maildir.

Mail addressed to Rekindle itself (the ``mailto:`` unsubscribe address, or the sender address
where bounce messages go) is also handed to the API's inbound-mail webhook, as a relay's
inbound hook would in production: a DSN becomes delivery feedback, a mail to the unsubscribe
address unsubscribes the client its token names.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.runtime.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Forward:
    """Where mail for ``addresses`` goes: the API's ``/v1/webhooks/inbound-mail`` and its credentials."""

    url: str
    username: str
    password: str
    addresses: frozenset[str]

    def wants(self, recipients: list[str]) -> bool:
        return any(parseaddr(r)[1].lower() in self.addresses for r in recipients)


class MaildirHandler:
    """Stores each received message, envelope recipients included, in ``folder``."""

    def __init__(self, folder: Path, forward: Forward | None = None) -> None:
        self.maildir = open_maildir(folder)
        self.forward = forward

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        header = f"X-Rekindle-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.maildir.add(header + raw)
        if self.forward is not None and self.forward.wants(envelope.rcpt_tos):
            await _hand_over(self.forward, raw)
        return "250 OK: kept in the local mail sink"


async def _hand_over(forward: Forward, raw: bytes) -> None:
    """POST the message to the API; a failure is logged (the message stays in the Maildir)."""
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                forward.url,
                content=raw,
                auth=(forward.username, forward.password),
                headers={"content-type": "message/rfc822"},
            )
        log.info("inbound mail handed to the API", status=response.status_code)
    except httpx.HTTPError as exc:
        log.warning("inbound mail not handed to the API", error_type=type(exc).__name__)


def open_maildir(folder: Path) -> mailbox.Maildir:
    """The Maildir at ``folder`` with its tmp/new/cur folders (``Maildir(create=True)`` makes
    them only when ``folder`` itself is missing)."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(folder, create=False)


def start_sink(folder: Path, host: str, port: int, forward: Forward | None = None) -> Controller:
    """Start the sink on its own thread; call ``.stop()`` to stop it."""
    controller = Controller(MaildirHandler(folder, forward), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def read_sink(folder: Path) -> list[mailbox.MaildirMessage]:
    """Every message the sink has kept, oldest first."""
    box = open_maildir(folder)
    messages: list[Any] = [box[key] for key in box.iterkeys()]
    return sorted(messages, key=lambda m: m.get_date())
