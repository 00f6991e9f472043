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
        folder.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        header = f"X-Rekindle-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.maildir.add(header + raw)
        return "250 OK: kept in the local mail sink"


def start_sink(folder: Path, host: str, port: int) -> Controller:
    """Start the sink on its own thread; call ``.stop()`` to stop it."""
    controller = Controller(MaildirHandler(folder), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def read_sink(folder: Path) -> list[mailbox.MaildirMessage]:
    """Every message the sink has kept, oldest first."""
    box = mailbox.Maildir(folder, create=True)
    messages: list[Any] = [box[key] for key in box.iterkeys()]
    return sorted(messages, key=lambda m: m.get_date())
