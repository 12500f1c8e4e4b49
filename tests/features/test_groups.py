"""The windowed group operations against a brute-force reading of their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from riskml.features.context import Groups


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 400
    key = rng.integers(-1, 12, n)  # -1: in no group
    time = np.sort(rng.integers(0, 200, n))  # non-decreasing with rank, with ties
    values = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
    codes = rng.integers(-1, 6, n)  # -1: missing code
    return {"key": key, "rank": np.arange(n), "time": time, "values": values, "codes": codes}


def brute(rows: dict[str, np.ndarray], width: int) -> list[np.ndarray]:
    """Per row, the earlier rows of its group with time >= time - width."""
    key, rank, time = rows["key"], rows["rank"], rows["time"]
    out = []
    for i in range(len(key)):
        if key[i] < 0:
            out.append(np.array([], dtype="int64"))
            continue
        out.append(np.flatnonzero((key == key[i]) & (rank < rank[i]) & (time >= time[i] - width)))
    return out


@pytest.mark.parametrize("block", [None, 1, 37])  # pairs built at once, or a few at a time
@pytest.mark.parametrize("width", [0, 7, 50, 1_000])
def test_windowed_operations_match_their_definition(
    rows: dict[str, np.ndarray], width: int, block: int | None
) -> None:
    g = Groups(rows["key"], rows["rank"], rows["time"])
    windows = brute(rows, width)
    valid = rows["key"] >= 0
    values, codes, time = rows["values"], rows["codes"], rows["time"]

    expected_max = np.array(
        [np.nanmax(values[w]) if np.isfinite(values[w]).any() else np.nan for w in windows]
    )
    np.testing.assert_array_equal(g.window_max(values, time, width, block), expected_max)
    expected_min = np.array(
        [np.nanmin(values[w]) if np.isfinite(values[w]).any() else np.nan for w in windows]
    )
    np.testing.assert_array_equal(g.window_min(values, time, width, block), expected_min)

    distinct = np.array([len(set(codes[w][codes[w] >= 0])) for w in windows], dtype="float64")
    distinct[~valid] = np.nan
    np.testing.assert_array_equal(g.window_distinct(codes, time, width, block=block), distinct)
    with_self = np.array(
        [
            len(set(codes[np.append(w, i)][codes[np.append(w, i)] >= 0]))
            for i, w in enumerate(windows)
        ],
        dtype="float64",
    )
    with_self[~valid] = np.nan
    np.testing.assert_array_equal(
        g.window_distinct(codes, time, width, include_self=True, block=block), with_self
    )

    latest = np.array([w[-1] if len(w) else -1 for w in windows])
    np.testing.assert_array_equal(g.window_previous(time, width), latest)
    counts = np.array([len(w) for w in windows], dtype="float64")
    counts[~valid] = np.nan
    np.testing.assert_array_equal(g.window_count(time, width), counts)


def test_window_sums_have_the_same_bits_without_older_rows(rows: dict[str, np.ndarray]) -> None:
    """A chunk's history is cut at the reach: its window sums must be the one pass's, bit for bit
    (a last-bit difference can move a claim across a split of the model)."""
    rng = np.random.default_rng(8)
    amounts = np.round(rng.lognormal(6, 2, len(rows["key"])), 2)  # money, with cents
    width, cut = 30, 100
    full = Groups(rows["key"], rows["rank"], rows["time"])
    later = rows["time"] >= cut - width
    part = Groups(rows["key"][later], rows["rank"][later], rows["time"][later])
    scored = rows["time"][later] >= cut
    np.testing.assert_array_equal(
        part.window_sum(amounts[later], rows["time"][later], width)[scored],
        full.window_sum(amounts, rows["time"], width)[later][scored],
    )
    # and they are the sums, to the quantum
    windows = brute(rows, width)
    expected = np.array([amounts[w].sum() for w in windows])
    valid = rows["key"] >= 0
    np.testing.assert_allclose(
        full.window_sum(amounts, rows["time"], width)[valid], expected[valid], atol=1e-3
    )


def test_the_row_argmax_of_item_scores_is_scipys_for_every_row_with_a_positive_maximum() -> None:
    import scipy.sparse as sp

    from riskml.features.claim import _first_argmax_by_row

    rng = np.random.default_rng(0)
    for trial in range(30):
        items = sp.random(300, 40, density=rng.uniform(0.01, 0.5), random_state=trial)
        items.data = np.round(items.data * 4) / 4  # many ties between diagnoses
        profile = sp.random(40, 30, density=0.3, random_state=trial + 100)
        scores = (items.tocsr() @ profile.tocsr()).tocsr()
        expected = np.asarray(scores.copy().argmax(axis=1)).ravel()
        positive = scores.max(axis=1).toarray().ravel() > 0
        got = _first_argmax_by_row(scores)
        np.testing.assert_array_equal(got[positive], expected[positive])


def test_window_counts_and_sums_with_one_width_per_row_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    n = 400
    key = rng.integers(-1, 6, n)
    time_s = np.sort(rng.integers(0, 1_000, n))
    values = rng.integers(0, 100, n) / 4.0
    width = rng.integers(0, 300, n)
    g = Groups(key, np.arange(n), time_s)
    counts = g.window_count(time_s, width)
    sums = g.window_sum(values, time_s, width)
    for i in range(n):
        if key[i] < 0:
            assert np.isnan(counts[i]) and np.isnan(sums[i])
            continue
        earlier = (key[:i] == key[i]) & (time_s[:i] >= time_s[i] - width[i])
        assert counts[i] == earlier.sum()
        assert sums[i] == values[:i][earlier].sum()
