"""The policy gate, send windows and holdout: pure functions, checked directly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain.policy import (
    GateContext,
    check_gate,
    earliest,
    holdout_fraction_of,
    in_holdout,
    in_send_window,
    next_send_window,
    zone,
)

OPEN = GateContext(
    unsubscribed=False,
    bounced=False,
    paused=False,
    last_sent_at=None,
    frequency_cap_days=30,
    time_zone="UTC",
    quiet_hours_start=20,
    quiet_hours_end=9,
)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_gate_allows_open_client_inside_window() -> None:
    assert check_gate(OPEN, NOON, "send").allowed


@pytest.mark.parametrize(
    ("ctx", "reason"),
    [(replace(OPEN, unsubscribed=True), "unsubscribed"), (replace(OPEN, bounced=True), "bounced")],
)
def test_gate_consent_refusal_is_final(ctx: GateContext, reason: str) -> None:
    decision = check_gate(ctx, NOON, "draft")
    assert (decision.allowed, decision.reason, decision.final, decision.not_before) == (
        False,
        reason,
        True,
        None,
    )


def test_gate_paused_waits_for_a_message() -> None:
    decision = check_gate(replace(OPEN, paused=True), NOON, "send")
    assert (decision.allowed, decision.reason, decision.final, decision.not_before) == (
        False,
        "paused",
        False,
        None,
    )


def test_gate_frequency_cap_reschedules_to_cap_end() -> None:
    sent = NOON - timedelta(days=10)
    decision = check_gate(replace(OPEN, last_sent_at=sent), NOON, "draft")
    assert decision.reason == "frequency_cap"
    assert decision.not_before == sent + timedelta(days=30)
    assert check_gate(replace(OPEN, last_sent_at=NOON - timedelta(days=31)), NOON, "draft").allowed


def test_gate_quiet_hours_only_for_sending() -> None:
    night = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    assert check_gate(OPEN, night, "draft").allowed
    decision = check_gate(OPEN, night, "approval")
    assert decision.reason == "quiet_hours"
    assert decision.not_before == datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


def test_send_window_in_tokyo_opens_at_nine_local() -> None:
    at = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo
    opening = next_send_window(at, "Asia/Tokyo", 20, 9)
    assert opening == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    assert opening.astimezone(ZoneInfo("Asia/Tokyo")).hour == 9


def test_send_window_early_morning_opens_same_day() -> None:
    at = datetime(2026, 3, 10, 5, 30, tzinfo=UTC)
    assert next_send_window(at, "UTC", 20, 9) == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_send_window_across_dst_keeps_local_nine() -> None:
    at = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 EST, the night clocks spring forward
    opening = next_send_window(at, "America/New_York", 20, 9)
    assert opening.astimezone(ZoneInfo("America/New_York")).hour == 9
    assert opening == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT


@pytest.mark.parametrize(
    ("hour", "start", "end", "inside"),
    [
        (9, 20, 9, True),
        (19, 20, 9, True),
        (20, 20, 9, False),
        (3, 20, 9, False),
        (3, 1, 5, False),
        (6, 1, 5, True),
        (4, 7, 7, True),
    ],
)
def test_send_window_hours(hour: int, start: int, end: int, inside: bool) -> None:
    assert in_send_window(hour, start, end) is inside


def test_zone_falls_back_on_unknown_names() -> None:
    assert zone("Mars/Olympus", "Europe/Paris") == ZoneInfo("Europe/Paris")
    assert zone(None, "nonsense") == ZoneInfo("UTC")


def test_holdout_is_stable_and_near_the_fraction() -> None:
    ids = [f"c-{i}" for i in range(5000)]
    share = sum(in_holdout(c, 0.10) for c in ids) / len(ids)
    assert 0.08 < share < 0.12
    assert holdout_fraction_of("c-42") == holdout_fraction_of("c-42")
    assert not in_holdout("c-42", 0.0)
    assert in_holdout("c-42", 1.0)


def test_earliest_ignores_none() -> None:
    assert earliest(None, NOON, NOON - timedelta(1)) == NOON - timedelta(1)
    assert earliest(None) is None
