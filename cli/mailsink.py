"""A local SMTP sink for development: accepts every message and keeps it in a Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    """Stores each received message, envelope recipients included, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.maildir = open_maildir(folder)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        header = f"X-Rekindle-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.maildir.add(header + raw)
        return "250 OK: kept in the local mail sink"


def open_maildir(folder: Path) -> mailbox.Maildir:
    """The Maildir at ``folder`` with its tmp/new/cur folders (``Maildir(create=True)`` makes
    them only when ``folder`` itself is missing)."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(folder, create=False)


def start_sink(folder: Path, host: str, port: int) -> Controller:
    """Start the sink on its own thread; call ``.stop()`` to stop it."""
    controller = Controller(MaildirHandler(folder), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def read_sink(folder: Path) -> list[mailbox.MaildirMessage]:
    """Every message the sink has kept, oldest first."""
    box = open_maildir(folder)
    messages: list[Any] = [box[key] for key in box.iterkeys()]
    return sorted(messages, key=lambda m: m.get_date())
