"""RFM quintile scores and segments."""

import numpy as np

from core.domain.scoring.params import RfmCutpoints
from core.domain.scoring.rfm import (
    SEGMENTS,
    rfm_cutpoints,
    rfm_scores,
    rfm_segments,
    segment_of,
)


def _population(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    recency = rng.integers(0, 400, n).astype(float)
    frequency = 1 + rng.geometric(0.5, n) - 1  # many ties at 1
    monetary = rng.gamma(2.0, 20.0, n).round(0)
    return recency, frequency.astype(float), monetary


def test_rfm_shuffled_rows_get_the_same_scores() -> None:
    rec, freq, mon = _population(20_000, 1)
    cuts = rfm_cutpoints(rec, freq, mon)
    r, f, m = rfm_scores(rec, freq, mon, cuts)
    perm = np.random.default_rng(2).permutation(rec.size)
    cuts2 = rfm_cutpoints(rec[perm], freq[perm], mon[perm])
    r2, f2, m2 = rfm_scores(rec[perm], freq[perm], mon[perm], cuts2)
    assert cuts2 == cuts
    assert np.array_equal(r[perm], r2)
    assert np.array_equal(f[perm], f2)
    assert np.array_equal(m[perm], m2)


def test_rfm_equal_values_get_equal_scores() -> None:
    rec, freq, mon = _population(10_000, 3)
    r, f, m = rfm_scores(rec, freq, mon, rfm_cutpoints(rec, freq, mon))
    for values, scores in ((rec, r), (freq, f), (mon, m)):
        for v in np.unique(values)[:50]:
            assert np.unique(scores[values == v]).size == 1


def test_rfm_scores_are_monotone_and_in_range() -> None:
    rec, freq, mon = _population(10_000, 5)
    r, f, m = rfm_scores(rec, freq, mon, rfm_cutpoints(rec, freq, mon))
    for s in (r, f, m):
        assert s.min() >= 1
        assert s.max() <= 5
    assert np.all(np.diff(r[np.argsort(rec, kind="stable")]) <= 0)  # older -> lower
    assert np.all(np.diff(f[np.argsort(freq, kind="stable")]) >= 0)
    assert np.all(np.diff(m[np.argsort(mon, kind="stable")]) >= 0)


def test_rfm_distinct_values_fill_quintiles_evenly() -> None:
    values = np.random.default_rng(6).permutation(1000).astype(float)
    _, f, _ = rfm_scores(values, values, values, rfm_cutpoints(values, values, values))
    assert np.bincount(f)[1:].tolist() == [200, 200, 200, 200, 200]


def test_rfm_share_strictly_worse_rule() -> None:
    # 60 % one-time buyers: nobody is strictly below them, so they score 1 (not split).
    freq = np.array([1.0] * 6 + [2.0] * 2 + [3.0] * 2)
    _, f, _ = rfm_scores(freq, freq, freq, rfm_cutpoints(freq, freq, freq))
    assert f.tolist() == [1] * 6 + [4] * 2 + [5] * 2


def test_rfm_single_client_matches_population() -> None:
    rec, freq, mon = _population(5000, 7)
    cuts = rfm_cutpoints(rec, freq, mon)
    r, f, _ = rfm_scores(rec, freq, mon, cuts)
    seg = rfm_segments(r, f)
    for i in range(0, 5000, 97):
        assert segment_of(rec[i], freq[i], mon[i], cuts) == SEGMENTS[seg[i]]


def test_rfm_segments_cover_the_grid() -> None:
    r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    names = {SEGMENTS[i] for i in rfm_segments(r.ravel(), f.ravel())}
    assert names == set(SEGMENTS)
    assert SEGMENTS[rfm_segments([5], [5])[0]] == "champions"
    assert SEGMENTS[rfm_segments([5], [1])[0]] == "new"
    assert SEGMENTS[rfm_segments([1], [5])[0]] == "can't lose them"
    assert SEGMENTS[rfm_segments([1], [1])[0]] == "lost"


def test_rfm_cutpoints_round_trip_through_json() -> None:
    rec, freq, mon = _population(1000, 8)
    cuts = rfm_cutpoints(rec, freq, mon)
    assert RfmCutpoints.model_validate_json(cuts.model_dump_json()) == cuts
