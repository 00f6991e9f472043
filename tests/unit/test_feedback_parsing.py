"""The providers' payloads as pure parsing: what is acted on, what is skipped, what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.domain.feedback import BadPayload, parse_time, postmark, sendgrid
from core.domain.feedback.inbound import dsn_events, parse, unsubscribe_token
from core.domain.feedback.sns import parse_envelope, string_to_sign
from tests.fakes.providers import postmark_bounce, postmark_delivery, sendgrid_event


def test_feedback_times_with_seven_fraction_digits_and_z() -> None:
    assert parse_time("2026-12-02T15:40:11.9070259Z", "f") == datetime(2026, 12, 2, 15, 40, 11, 907025, UTC)
    with pytest.raises(BadPayload, match="f: not an ISO 8601 timestamp"):
        parse_time("yesterday", "f")


def test_feedback_sns_string_to_sign_follows_the_documented_order() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": "t",
        "Message": "x\ny",
        "Timestamp": "ts",
    }
    assert (
        string_to_sign(message)
        == b"Message\nx\ny\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    )
    with_subject = {**message, "Subject": "s"}
    assert b"Subject\ns\n" in string_to_sign(with_subject)


@pytest.mark.parametrize(
    "body", [b'{"Type": {}}', b'{"Type": ["Notification"]}', b'{"Type": 1}', b"[]", b"{}"]
)
def test_feedback_sns_envelope_without_a_type_name_is_a_bad_payload(body: bytes) -> None:
    # A JSON value that is not one of the type names (an object is unhashable) is a 422, not a 500.
    with pytest.raises(BadPayload, match="expected an SNS message type"):
        parse_envelope(body)


def test_feedback_sendgrid_acts_on_delivered_bounce_blocked_spamreport_only() -> None:
    kinds = ["processed", "deferred", "dropped", "delivered", "bounce", "open", "click", "spamreport"]
    batch = [sendgrid_event(k, "a@example.com", "<m@x>", f"id-{k}") for k in kinds]
    batch.append(sendgrid_event("bounce", "a@example.com", "<m@x>", "id-blocked", type="blocked"))
    events = sendgrid.events(json.dumps(batch).encode())
    assert [(e.event_id, e.kind) for e in events] == [
        ("id-delivered", "delivered"),
        ("id-bounce", "hard_bounce"),
        ("id-spamreport", "complaint"),
        ("id-blocked", "soft_bounce"),
    ]
    assert events[0].message_id == "<m@x>"


def test_feedback_postmark_kinds_and_no_address_in_ids() -> None:
    soft = postmark.events(postmark_bounce("a@example.com", 5, "SoftBounce", 4096))
    assert [e.kind for e in soft] == ["soft_bounce"]
    assert postmark.events(postmark_bounce("a@example.com", 6, "AutoResponder", 64)) == []
    (delivered,) = postmark.events(postmark_delivery("anna@example.com"))
    assert "anna" not in delivered.event_id
    assert postmark.events({"RecordType": "Open"}) == []


def test_feedback_mailto_token_from_subject_or_body() -> None:
    assert unsubscribe_token("Re: unsubscribe-YzEw.AAAAAAAAAAAAAAAAAAAAAA") == "YzEw.AAAAAAAAAAAAAAAAAAAAAA"
    assert unsubscribe_token("hello", "please unsubscribe-YzEw.AAAAAAAAAAAAAAAAAAAAAA thanks") is not None
    assert unsubscribe_token("unsubscribe me") is None


def test_feedback_plain_mail_is_not_a_dsn() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: read receipt\r\n"
        b"Content-Type: multipart/report; report-type=disposition-notification\r\n\r\n"
    )
    assert dsn_events(parse(raw), raw) == []
