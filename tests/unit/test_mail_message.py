"""The message as it goes over the wire: parsed back as a mail client would."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from activities import mail
from core.runtime.settings import SmtpSettings

SMTP = SmtpSettings(from_address="Équipe Rekindle <hello@rekindle.localhost>")
LINK = "https://shop.example/u/" + "t" * 120  # longer than a header line


def _wire(**overrides: Any) -> bytes:
    values: dict[str, Any] = {
        "settings": SMTP,
        "to_address": "anna@example.com",
        "subject": "Für Anna & co: a new box is waiting, with a subject long enough to be folded",
        "text": "Hallo Anna,\n\nschön, dass du da bist. " + "Lange Zeile " * 20 + "\n\n-- das Team\n",
        "html": "<p>Hallo Anna, schön, dass du da bist.</p>",
        "msg_id": "<e-1@rekindle.localhost>",
        "unsubscribe_link": LINK,
        "unsubscribe_token": "tok",
    }
    values.update(overrides)
    return mail.wire_bytes(SMTP, mail.build_message(**values))


def _parsed(raw: bytes) -> EmailMessage:
    parsed: Any = message_from_bytes(raw, policy=policy.default)
    return parsed  # type: ignore[no-any-return]


def test_headers_and_both_parts_read_back_as_written() -> None:
    raw = _wire()
    message = _parsed(raw)
    assert str(message["From"]) == "Équipe Rekindle <hello@rekindle.localhost>"
    assert str(message["To"]) == "anna@example.com"
    assert str(message["Subject"]).startswith("Für Anna & co: a new box is waiting")
    assert str(message["Message-ID"]) == "<e-1@rekindle.localhost>"
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.replace(" ", "") == (
        f"<{LINK}>,<mailto:unsubscribe@rekindle.localhost?subject=unsubscribe-tok>"
    )
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "schön, dass du da bist. Lange Zeile" in plain.get_content()
    assert html.get_content().strip() == "<p>Hallo Anna, schön, dass du da bist.</p>"


def test_every_line_ends_in_crlf_and_stays_within_the_rfc_limit() -> None:
    raw = _wire()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()  # 7-bit clean: no SMTPUTF8 or 8BITMIME needed
    lines = raw.split(b"\r\n")
    # 78 is RFC 5322's SHOULD; a URL cannot be folded, so its line has only the 998 MUST
    assert max(len(line) for line in lines if LINK.encode() not in line) <= 78
    assert max(len(line) for line in lines) <= 998


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: everyone@example.com"),
        ("subject", "Hello\nthere"),
        ("to_address", "anna@example.com\r\nBcc: everyone@example.com"),
        ("to_address", "anna@example.com>, everyone@example.com"),
        ("to_address", "jürgen@example.com"),  # would need SMTPUTF8
        ("to_address", "no-at-sign"),
    ],
)
def test_what_cannot_be_written_safely_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="cannot"):
        _wire(**{field: value})


def test_an_international_domain_is_written_in_its_ascii_form() -> None:
    assert str(_parsed(_wire(to_address="anna@bücher.example"))["To"]) == "anna@xn--bcher-kva.example"
