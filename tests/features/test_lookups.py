"""The indexed lookups that replace per-call merges give exactly what the merges gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.errors import DataContractError
from riskml.features import norms
from riskml.features.context import join_positions, key_index, take
from riskml.features.norms import lookup_backoff, lookup_exact, median_table


def merge_backoff(frame: pd.DataFrame, levels: list[tuple[list[str], pd.DataFrame]]) -> np.ndarray:
    """The former implementation: a left merge per level."""
    out = np.full(len(frame), np.nan)
    for keys, table in levels:
        if table.empty:
            continue
        left = frame[list(keys)].reset_index(drop=True)
        right = table[[*keys, "median"]]
        for k in keys:
            right = right.astype({k: left[k].dtype})
        vals = left.merge(right, on=list(keys), how="left", sort=False)["median"].to_numpy()
        fill = np.isnan(out) & ~np.isnan(vals)
        out[fill] = vals[fill]
    return out


def peer_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dx = rng.choice(np.array(["J18", "I21", "K35", "O80", None], dtype=object), n)
    return pd.DataFrame(
        {
            "bt": rng.integers(0, 4, n),
            "dx3": dx,
            "tier_key": rng.choice([0.0, 1.0, 2.0, 3.0], n),
            "amount": rng.gamma(2.0, 500.0, n),
        },
        index=rng.permutation(n) + 1000,  # lookups must not depend on the frame's index
    )


@pytest.mark.parametrize("n_probe", [0, 1, 7, 400])
def test_lookup_backoff_matches_merges(n_probe: int) -> None:
    fit = peer_frame(2_000, 0)
    fit = fit.loc[fit["bt"] < 3]  # no norm for benefit 3 at any level
    fine = median_table(fit, ["bt", "dx3", "tier_key"], "amount", 5)
    mid = median_table(fit, ["bt", "dx3"], "amount", 5)
    coarse = median_table(fit, ["bt"], "amount", 5)
    levels = [(["bt", "dx3", "tier_key"], fine), (["bt", "dx3"], mid), (["bt"], coarse)]
    probe = peer_frame(n_probe, 1)
    probe.loc[probe.index[::5], "tier_key"] = 9.0  # unseen tier backs off
    got = lookup_backoff(probe, levels)
    np.testing.assert_array_equal(got, merge_backoff(probe, levels))
    assert np.isnan(got[probe["bt"].to_numpy() == 3]).all()  # no level holds bt 3
    np.testing.assert_array_equal(lookup_backoff(probe, levels), got)  # cached index, same answer


def test_lookup_overflowing_radix_uses_multiindex(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = peer_frame(1_000, 2)
    table = median_table(fit, ["bt", "dx3", "tier_key"], "amount", 3)
    probe = peer_frame(50, 3)
    expected = merge_backoff(probe, [(["bt", "dx3", "tier_key"], table)])
    monkeypatch.setattr(norms.math, "prod", lambda sizes: 2**62)
    fresh = table.copy()  # a new table: its index is built under the patch
    np.testing.assert_array_equal(
        lookup_backoff(probe, [(["bt", "dx3", "tier_key"], fresh)]), expected
    )


def test_lookup_exact_and_joins() -> None:
    table = pd.DataFrame(
        {"code": pd.array(["a", "b", "c"], dtype="str"), "share": [0.5, np.nan, 2.0]}
    )
    probe = pd.DataFrame({"code": np.array(["c", "x", None, "a"], dtype=object)})
    np.testing.assert_array_equal(
        lookup_exact(probe, ["code"], table, "share"), np.array([2.0, np.nan, np.nan, 0.5])
    )
    people = pd.DataFrame({"person_id": pd.array(["p1", "p2"], dtype="str"), "sex": ["F", "M"]})
    at = join_positions(key_index(people, "person_id"), pd.Series(["p2", "p9", "p1"]))
    np.testing.assert_array_equal(at, [1, -1, 0])
    sex = take(people["sex"], at)
    assert sex[0] == "M" and sex[2] == "F" and np.isnan(sex[1])
    np.testing.assert_array_equal(take(np.array([3, 4]), at), [4.0, np.nan, 3.0])
    np.testing.assert_array_equal(take(np.array([], dtype="float64"), at), [np.nan] * 3)


def test_key_index_rejects_duplicate_keys() -> None:
    people = pd.DataFrame({"person_id": ["p1", "p1"]})
    with pytest.raises(DataContractError, match=r"persons\.person_id"):
        key_index(people, "person_id", "persons")


@pytest.mark.parametrize("n_probe", [1, 7, norms.SMALL_PROBE + 1])
def test_lookup_binary_search_matches_merges_for_string_and_mixed_keys(n_probe: int) -> None:
    """The binary-search path (small probes) and the hash path answer alike, also for Arrow
    string probes and for object probes holding a non-string (which fall back to the index)."""
    fit = peer_frame(2_000, 4)
    table = median_table(fit, ["bt", "dx3"], "amount", 5)
    probe = peer_frame(n_probe, 5)
    for dx in (probe["dx3"].astype("str"), probe["dx3"].where(probe.index % 3 > 0, 7)):
        frame = probe.assign(dx3=dx)
        levels = [(["bt", "dx3"], table.copy())]
        np.testing.assert_array_equal(lookup_backoff(frame, levels), merge_backoff(frame, levels))
