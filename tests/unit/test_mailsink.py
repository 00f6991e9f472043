"""The dev stack's SMTP sink keeps every message it accepts, in a folder that may already exist."""

from __future__ import annotations

import smtplib
from pathlib import Path

from cli.mailsink import read_sink, start_sink
from tests.helpers import free_port


def test_mailsink_keeps_messages_in_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()  # `rekindle up` runs again on the same data folder
    port = free_port()
    sink = start_sink(folder, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            refused = smtp.sendmail("a@example.com", ["c@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    finally:
        sink.stop()
    assert refused == {}
    kept = read_sink(folder)
    assert [m["Subject"] for m in kept] == ["hi"]
    assert kept[0]["X-Rekindle-Rcpt-To"] == "c@example.com"
