"""Order history -> per-client summary conventions."""

from datetime import date

import numpy as np
import pytest

from core.domain.scoring.errors import InvalidHistoryError
from core.domain.scoring.summary import day_number, summarize


def _d(s: str) -> np.datetime64:
    return np.datetime64(s)


def test_summary_same_day_orders_are_one_occasion() -> None:
    ids = ["a", "a", "a", "a"]
    when = np.array(
        [
            "2024-01-01T09:00",
            "2024-01-01T18:30",
            "2024-01-11T10:00",
            "2024-01-11T23:59",
        ],
        dtype="datetime64[m]",
    )
    s = summarize(ids, when, [10.0, 5.0, 20.0, 2.0], until=date(2024, 1, 31))
    assert s.frequency.tolist() == [1]
    assert s.recency_days.tolist() == [10]
    assert s.age_days.tolist() == [30]
    # lifetimes convention: mean of the repeat occasions, each the sum of its day
    assert s.monetary.tolist() == [22.0]
    assert s.average_value.tolist() == [(15.0 + 22.0) / 2]


def test_summary_until_cuts_later_orders_and_later_clients() -> None:
    ids = np.array([1, 1, 1, 2, 3])
    days = np.array(["2024-01-01", "2024-01-05", "2024-02-10", "2024-01-20", "2024-03-01"])
    s = summarize(ids, days.astype("datetime64[D]"), [1, 2, 4, 8, 16], until=date(2024, 1, 31))
    assert s.client_ids.tolist() == [1, 2]
    assert s.frequency.tolist() == [1, 0]
    assert s.recency_days.tolist() == [4, 0]
    assert s.age_days.tolist() == [30, 11]
    assert s.monetary.tolist() == [2.0, 0.0]
    assert s.days_since_last_order.tolist() == [26, 11]


def test_summary_order_on_until_day_counts() -> None:
    s = summarize([7, 7], [_d("2024-01-01"), _d("2024-01-31")], [1, 1], until=date(2024, 1, 31))
    assert (s.frequency[0], s.recency_days[0], s.age_days[0]) == (1, 30, 30)


def test_summary_weeks_divide_whole_days_by_seven() -> None:
    s = summarize(
        ["x", "x"],
        [_d("2024-01-01"), _d("2024-01-15")],
        [1, 1],
        until=date(2024, 1, 29),
        unit="weeks",
    )
    assert s.recency.tolist() == [2.0]
    assert s.age.tolist() == [4.0]


def test_summary_row_order_does_not_matter() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    ids = rng.integers(0, 700, n)
    days = day_number(date(2023, 1, 1)) + rng.integers(0, 400, n)
    amounts = rng.gamma(2.0, 10.0, n)
    a = summarize(ids, days, amounts, until=date(2023, 12, 31))
    perm = rng.permutation(n)
    b = summarize(ids[perm], days[perm], amounts[perm], until=date(2023, 12, 31))
    assert np.array_equal(a.client_ids, b.client_ids)
    assert np.array_equal(a.frequency, b.frequency)
    assert np.array_equal(a.recency_days, b.recency_days)
    np.testing.assert_allclose(a.monetary, b.monetary, rtol=1e-12)


def test_summary_matches_a_per_client_loop() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    ids = rng.integers(0, 300, n) * 7 + 1_000_000  # sparse integer ids
    days = rng.integers(19000, 19300, n)
    amounts = rng.uniform(0, 50, n).round(2)
    until = date(1970, 1, 1).fromordinal(date(1970, 1, 1).toordinal() + 19250)
    s = summarize(ids, days, amounts, until=until)
    for k, cid in enumerate(s.client_ids.tolist()):
        mine = (ids == cid) & (days <= 19250)
        per_day: dict[int, float] = {}
        for d, v in zip(days[mine].tolist(), amounts[mine].tolist(), strict=True):
            per_day[d] = per_day.get(d, 0.0) + v
        ordered = sorted(per_day)
        assert s.frequency[k] == len(ordered) - 1
        assert s.recency_days[k] == ordered[-1] - ordered[0]
        assert s.age_days[k] == 19250 - ordered[0]
        repeat = [per_day[d] for d in ordered[1:]]
        assert s.monetary[k] == pytest.approx(sum(repeat) / len(repeat) if repeat else 0.0)


@pytest.mark.parametrize("amount", [float("nan"), -1.0, float("inf")])
def test_summary_rejects_bad_amounts(amount: float) -> None:
    with pytest.raises(InvalidHistoryError):
        summarize([1], [_d("2024-01-01")], [amount], until=date(2024, 1, 2))


def test_summary_rejects_ragged_input() -> None:
    with pytest.raises(InvalidHistoryError):
        summarize([1, 2], [_d("2024-01-01")], [1.0], until=date(2024, 1, 2))


def test_summary_empty_after_cut() -> None:
    s = summarize([1], [_d("2024-05-01")], [1.0], until=date(2024, 1, 2))
    assert s.n_clients == 0
