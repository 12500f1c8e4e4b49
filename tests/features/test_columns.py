"""``context.Columns`` builds the frame that inserting the same columns one by one builds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.features.context import Columns


def _assign(target: pd.DataFrame | Columns) -> None:
    target["f"] = np.array([1.5, np.nan, 3.0])
    target["i"] = np.array([1, 2, 3], dtype="int64")
    target["s"] = np.array(["a", None, "c"], dtype=object)  # strings: inferred as str
    target["shifted"] = pd.Series([10.0, 20.0], index=[2, 1])  # aligned on the index
    target["scalar"] = np.nan
    target["b"] = target["i"] > 1  # reads give the Series the frame holds
    target["f"] = target["f"].fillna(0.0)  # replaced in place, order kept


def test_columns_frame_equals_column_by_column_inserts() -> None:
    index = np.arange(3)
    expected = pd.DataFrame(index=index)
    _assign(expected)
    cols = Columns(index)
    _assign(cols)
    got = cols.frame()
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)


def test_columns_start_and_update_act_like_a_left_join() -> None:
    base = pd.DataFrame({"a": [1.0, 2.0], "k": ["x", "y"]})
    extra = pd.DataFrame({"z": [5.0]}, index=[1])
    expected = base.copy()
    expected["n"] = expected["a"] * 2
    expected = expected.join(extra)
    cols = Columns(base.index, start=base)
    cols["n"] = cols["a"] * 2
    cols.update(extra)
    assert "z" in cols and "q" not in cols
    pd.testing.assert_frame_equal(cols.frame(), expected, check_exact=True)


def test_history_order_and_category_codes_match_pandas() -> None:
    from riskml.contract import CHANNELS
    from riskml.features.context import _CHANNELS, category_codes, history_order

    rng = np.random.default_rng(0)
    n = 500
    claims = pd.DataFrame(
        {
            "submitted_at": pd.to_datetime("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 20, n), unit="s"),  # many ties
            "claim_id": pd.Series([f"C{rng.integers(0, 300):04d}" for _ in range(n)], dtype="str"),
            "channel": rng.choice(np.array([*CHANNELS, "fax", None], dtype=object), n),
        }
    )
    expected = claims.sort_values(["submitted_at", "claim_id"], kind="mergesort").index
    np.testing.assert_array_equal(history_order(claims), expected.to_numpy())
    known = claims["channel"].isin(CHANNELS).to_numpy()
    for values in (claims["channel"], claims["channel"].astype("str")):
        got = category_codes(values, _CHANNELS)
        expected_codes = pd.Categorical(
            values[known].astype("str"), categories=list(CHANNELS)
        ).codes
        np.testing.assert_array_equal(got[known], expected_codes)
        assert (got[~known] == -1).all()  # missing or unknown ("fax"), as Categorical gave
