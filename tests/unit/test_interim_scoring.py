"""The interim scoring rule (until core/scoring lands)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.interim_scoring import DEFAULT_GAP_DAYS, interim_score, tier_for, usual_gap_days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def monthly(n: int) -> list[datetime]:
    return [T0 + timedelta(days=30 * i) for i in range(n)]


def test_interim_usual_gap_is_bounded_median() -> None:
    assert usual_gap_days(monthly(4)) == 30
    assert usual_gap_days([T0]) is None
    assert usual_gap_days([T0, T0 + timedelta(hours=1)]) == 7  # bounded below
    assert usual_gap_days([T0, T0 + timedelta(days=900)]) == 180  # bounded above


def test_interim_tiers_follow_multiples_of_the_gap() -> None:
    assert [tier_for(r) for r in (0.5, 1.5, 2.5, 5.0)] == ["active", "cooling", "at_risk", "lapsed"]


def test_interim_monthly_client_next_check_is_cooling_boundary() -> None:
    orders = monthly(3)
    scored = interim_score(orders, orders[-1] + timedelta(days=10))
    assert (scored.tier, scored.score) == ("active", 100.0)
    assert scored.next_check_at == orders[-1] + timedelta(days=45)
    assert scored.reasons == ["no order for 10 days, usually orders every 30"]


def test_interim_silent_client_turns_at_risk_then_lapsed() -> None:
    orders = monthly(3)
    at_risk = interim_score(orders, orders[-1] + timedelta(days=80))
    assert at_risk.tier == "at_risk"
    assert at_risk.next_check_at == orders[-1] + timedelta(days=150)
    lapsed = interim_score(orders, orders[-1] + timedelta(days=200))
    assert (lapsed.tier, lapsed.next_check_at) == ("lapsed", None)
    assert lapsed.score < at_risk.score


def test_interim_one_time_buyer_uses_default_gap() -> None:
    scored = interim_score([T0], T0 + timedelta(days=1))
    assert scored.segment == "one_time"
    assert scored.next_check_at == T0 + timedelta(days=1.5 * DEFAULT_GAP_DAYS)


def test_interim_no_orders_is_active_without_boundary() -> None:
    scored = interim_score([], T0)
    assert (scored.tier, scored.next_check_at, scored.reasons) == ("active", None, ["no orders yet"])
