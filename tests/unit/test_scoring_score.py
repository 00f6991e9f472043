"""Scores, tiers, reasons and the next tier change for single clients."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from core.domain.scoring.fit import fit_parameters
from core.domain.scoring.params import (
    BgNbdParams,
    GammaGammaParams,
    ModelParameters,
    default_parameters,
)
from core.domain.scoring.schema import ClientScore, ClientSummary, Tier, TierPolicy
from core.domain.scoring.score import (
    at_risk_at,
    next_tier_change,
    score_client,
    score_population,
)
from core.domain.scoring.simulate import simulate_orders
from core.domain.scoring.summary import summarize

START = date(2024, 1, 1)
FITTED = ModelParameters(
    version=7,
    fitted_at=datetime(2025, 1, 1, tzinfo=UTC),
    n_clients=10_000,
    n_repeat_buyers=4000,
    bgnbd=BgNbdParams(r=1.2, alpha=40.0, a=0.7, b=5.0),
    gamma_gamma=GammaGammaParams(p=6.0, q=4.0, gamma=15.0),
    mean_order_value=30.0,
)


def _regular(orders: int, every: int) -> ClientSummary:
    """A client who ordered `orders` times, every `every` days, starting on START."""
    return ClientSummary(
        first_order_date=START,
        last_order_date=START + timedelta(days=every * (orders - 1)),
        frequency=orders - 1,
        monetary_value=42.0 if orders > 1 else 0.0,
        average_value=40.0,
    )


def test_score_client_reasons_read_like_a_person_wrote_them() -> None:
    client = _regular(4, 35)
    now = client.last_order_date + timedelta(days=94)
    s = score_client(client, FITTED, horizon_days=90, now=now)
    assert s.reasons[0] == "no order for 94 days; usually orders every 35"
    assert s.reasons[1].startswith(f"{s.p_order_again:.0%} chance of ordering again in the next 90 days")
    assert s.days_since_last_order == 94
    assert s.usual_gap_days == 35
    assert s.model_version == "v7"


def test_score_client_matches_population_scorer() -> None:
    client = _regular(6, 20)
    now = datetime(2024, 9, 1, 15, 30, tzinfo=UTC)
    single = score_client(client, FITTED, horizon_days=60, now=now)
    age = (now.date() - START).days
    pop = score_population([5], [100.0], [float(age)], [42.0], FITTED, 60.0)
    assert single.p_order_again == pytest.approx(float(pop.p_order_again[0]), rel=1e-15)
    assert single.expected_value == pytest.approx(float(pop.expected_value[0]), rel=1e-15)
    assert single.score == int(pop.score[0]) == round(100 * single.p_order_again)


def test_score_client_tiers_worsen_with_silence() -> None:
    client = _regular(8, 30)
    tiers = [
        score_client(
            client,
            FITTED,
            horizon_days=90,
            now=client.last_order_date + timedelta(days=d),
        ).tier
        for d in (0, 30, 60, 120, 240, 720)
    ]
    assert tiers[0] is Tier.ACTIVE
    assert tiers[-1] is Tier.LAPSED
    order = list(Tier)
    assert [order.index(t) for t in tiers] == sorted(order.index(t) for t in tiers)


def test_score_client_fresh_one_time_buyer_is_active() -> None:
    s = score_client(_regular(1, 0), FITTED, horizon_days=90, now=START)
    assert s.tier is Tier.ACTIVE
    assert s.p_alive == 1.0
    assert s.reasons[0] == "one order so far, 0 days ago"
    assert s.p_order_again == pytest.approx(s.baseline_p_order_again)


def test_score_client_same_result_in_days_and_weeks() -> None:
    client = _regular(5, 17)
    now = client.last_order_date + timedelta(days=50)
    days = score_client(client, default_parameters("days"), horizon_days=90, now=now)
    weeks = score_client(client, default_parameters("weeks"), horizon_days=90, now=now)
    assert weeks.p_order_again == pytest.approx(days.p_order_again, rel=1e-12)
    assert weeks.expected_orders == pytest.approx(days.expected_orders, rel=1e-9)
    assert weeks.tier is days.tier


def test_score_client_says_when_defaults_are_in_use() -> None:
    s = score_client(_regular(3, 10), default_parameters(), horizon_days=90, now=date(2024, 3, 1))
    assert s.model_version == "default"
    assert any("defaults" in r for r in s.reasons)


def test_next_tier_change_is_the_first_day_of_the_next_tier() -> None:
    client = _regular(10, 21)
    now = datetime(2024, 7, 20, 8, 0, tzinfo=UTC)
    current = score_client(client, FITTED, horizon_days=90, now=now).tier
    change = next_tier_change(client, FITTED, horizon_days=90, now=now)
    assert change is not None
    assert change.at.tzinfo is UTC
    assert change.at.time().hour == 0
    assert score_client(client, FITTED, horizon_days=90, now=change.at).tier is change.tier
    day_before = change.at - timedelta(days=1)
    assert score_client(client, FITTED, horizon_days=90, now=day_before).tier is current
    assert list(Tier).index(change.tier) > list(Tier).index(current)


def test_at_risk_at_is_the_first_at_risk_day() -> None:
    client = _regular(5, 30)
    now = client.last_order_date + timedelta(days=1)
    when = at_risk_at(client, FITTED, horizon_days=90, now=now)
    assert when is not None
    assert score_client(client, FITTED, horizon_days=90, now=when).tier in (
        Tier.AT_RISK,
        Tier.LAPSED,
    )
    before = score_client(client, FITTED, horizon_days=90, now=when - timedelta(days=1)).tier
    assert before in (Tier.ACTIVE, Tier.COOLING)
    assert at_risk_at(client, FITTED, horizon_days=90, now=when + timedelta(days=3)) == datetime.combine(
        when.date() + timedelta(days=3), datetime.min.time(), tzinfo=UTC
    )
    assert at_risk_at(client, FITTED, horizon_days=90, now=now, max_days=1) is None


def test_next_tier_change_none_once_lapsed() -> None:
    client = _regular(3, 10)
    assert next_tier_change(client, FITTED, horizon_days=90, now=date(2040, 1, 1)) is None


def test_tier_policy_thresholds_must_descend() -> None:
    with pytest.raises(ValidationError):
        TierPolicy(cooling_below=0.3, at_risk_below=0.5)


def test_client_summary_rejects_inconsistent_history() -> None:
    with pytest.raises(ValidationError):
        ClientSummary(
            first_order_date=START,
            last_order_date=START + timedelta(days=3),
            frequency=0,
        )
    with pytest.raises(ValidationError):
        ClientSummary(
            first_order_date=START,
            last_order_date=START - timedelta(days=3),
            frequency=1,
        )


def test_client_summary_from_totals_follows_lifetimes_convention() -> None:
    s = ClientSummary.from_totals(
        START,
        START + timedelta(days=30),
        occasions=3,
        total_value=90.0,
        first_occasion_value=30.0,
    )
    assert (s.frequency, s.monetary_value, s.average_value) == (2, 30.0, 30.0)


def test_client_score_round_trips_through_json() -> None:
    s = score_client(_regular(4, 12), FITTED, horizon_days=30, now=date(2024, 5, 1))
    assert ClientScore.model_validate_json(s.model_dump_json()) == s


def test_fit_parameters_uses_defaults_until_enough_data() -> None:
    rng = np.random.default_rng(9)
    bg = BgNbdParams(r=0.9, alpha=30.0, a=0.8, b=3.0)
    gg = GammaGammaParams(p=5.0, q=4.0, gamma=20.0)
    at = datetime(2025, 1, 2, tzinfo=UTC)
    small = simulate_orders(bg, gg, 300, rng, start=date(2024, 1, 1), until=date(2024, 12, 31))
    s_small = summarize(small.client_ids, small.days, small.amounts, until=date(2024, 12, 31))
    thin = fit_parameters(s_small, fitted_at=at, version=3)
    assert thin.is_default
    assert thin.model_version == "default"
    assert thin.n_clients == 300
    assert thin.rfm is not None
    big = simulate_orders(bg, gg, 5000, rng, start=date(2024, 1, 1), until=date(2024, 12, 31))
    s_big = summarize(big.client_ids, big.days, big.amounts, until=date(2024, 12, 31))
    fitted = fit_parameters(s_big, fitted_at=at, version=3)
    assert not fitted.is_default
    assert fitted.model_version == "v3"
    assert fitted.bgnbd_log_likelihood is not None
    assert fitted.calibration_end == date(2024, 12, 31)
    assert ModelParameters.model_validate_json(fitted.model_dump_json()) == fitted
