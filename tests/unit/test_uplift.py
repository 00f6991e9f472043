"""Uplift statistics: Wilson and Newcombe intervals, censoring, honesty about small samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.uplift import Episode, newcombe_difference, uplift_report, wilson_interval

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_uplift_wilson_matches_published_values() -> None:
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 0/10 -> 0 to 0.2775
    a = wilson_interval(81, 263)
    assert (round(a.low, 4), round(a.high, 4)) == (0.2553, 0.3662)
    b = wilson_interval(0, 10)
    assert (b.low, round(b.high, 4)) == (0.0, 0.2775)
    c = wilson_interval(10, 10)
    assert (round(c.low, 4), c.high) == (0.7225, 1.0)


def test_uplift_newcombe_matches_published_values() -> None:
    # Newcombe (1998) difference example 56/70 vs 48/80 -> 0.0524 to 0.3339 (method 10)
    d = newcombe_difference(56, 70, 48, 80)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)


def test_uplift_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(5, 4)


def _episodes(arm: str, n: int, reorder_every: int, days_after: int, age_days: int = 200) -> list[Episode]:
    anchor = NOW - timedelta(days=age_days)
    return [
        Episode(arm, anchor, anchor + timedelta(days=days_after) if i % reorder_every == 0 else None)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_uplift_report_rates_per_window() -> None:
    episodes = _episodes("emailed", 100, 2, 45) + _episodes("holdout", 100, 4, 45)
    report = uplift_report(episodes, NOW)
    w30, w60, _w90 = report.windows
    assert (w30.emailed.reordered, w30.holdout.reordered) == (0, 0)
    assert (w60.emailed.reordered, w60.emailed.n, w60.holdout.reordered) == (50, 100, 25)
    assert w60.uplift == pytest.approx(0.25)
    assert w60.uplift_ci is not None
    assert 0 < w60.uplift_ci.low < 0.25 < w60.uplift_ci.high
    assert report.enough_data


def test_uplift_report_counts_a_window_only_once_it_closed() -> None:
    recent = _episodes("emailed", 40, 1, 10, age_days=45) + _episodes("holdout", 40, 1, 10, age_days=45)
    report = uplift_report(recent, NOW)
    w30, w60, _ = report.windows
    assert w30.emailed.n == 40
    assert w30.enough_data
    assert w60.emailed.n == 0
    assert w60.emailed.rate is None
    assert not w60.enough_data


def test_uplift_report_is_honest_about_small_samples() -> None:
    report = uplift_report(_episodes("emailed", 29, 1, 5) + _episodes("holdout", 500, 2, 5), NOW)
    assert not report.enough_data
    for window in report.windows:
        assert window.uplift is None
        assert window.uplift_ci is None
        assert window.emailed.n == 29  # counts are still shown
    assert uplift_report([], NOW).episodes == 0


def test_uplift_report_ignores_orders_before_the_anchor() -> None:
    anchor = NOW - timedelta(days=100)
    before = Episode("emailed", anchor, anchor - timedelta(days=1))
    report = uplift_report([before], NOW, min_per_arm=1)
    assert report.windows[0].emailed.reordered == 0
