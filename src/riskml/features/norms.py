"""Peer norms learned from the training window and held fixed afterwards.

Norms are medians (robust to the fraud inside the window) kept as plain frames so that a fitted
builder pickles small and reads back with any pandas. Lookups back off from the most specific peer
group to broader ones, so a rare diagnosis at a rare tier still gets a sensible reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MIN_PEERS = 5


def median_table(
    frame: pd.DataFrame, keys: Sequence[str], value: str, min_peers: int = MIN_PEERS
) -> pd.DataFrame:
    """Median of ``value`` per ``keys`` group with at least ``min_peers`` non-null values."""
    sub = frame.loc[frame[value].notna() & np.isfinite(frame[value]), [*keys, value]]
    sub = sub.dropna(subset=list(keys))
    if sub.empty:
        return pd.DataFrame(columns=[*keys, "median", "n"])
    g = sub.groupby(list(keys), sort=True, observed=True)[value]
    out = pd.DataFrame({"median": g.median(), "n": g.size()}).reset_index()
    return out.loc[out["n"] >= min_peers].reset_index(drop=True)


def lookup_backoff(
    frame: pd.DataFrame, levels: Sequence[tuple[Sequence[str], pd.DataFrame]]
) -> np.ndarray:
    """For each row of ``frame``, the median of the most specific level that has one."""
    out = np.full(len(frame), np.nan)
    for keys, table in levels:
        if table.empty:
            continue
        left = frame[list(keys)].reset_index(drop=True)
        right = table[[*keys, "median"]]
        for k in keys:
            right = right.astype({k: left[k].dtype}) if k in left else right
        merged = left.merge(right, on=list(keys), how="left", sort=False)
        vals = merged["median"].to_numpy(dtype="float64")
        fill = np.isnan(out) & ~np.isnan(vals)
        out[fill] = vals[fill]
    return out


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where the denominator is missing or not positive."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    out = np.full(len(num), np.nan)
    ok = np.isfinite(den) & (den > 0) & np.isfinite(num)
    out[ok] = num[ok] / den[ok]
    return out
