"""Peer norms learned from the training window and held fixed afterwards.

Norms are medians (robust to the fraud inside the window) kept as plain frames so that a fitted
builder pickles small and reads back with any pandas. Lookups back off from the most specific peer
group to broader ones, so a rare diagnosis at a rare tier still gets a sensible reference.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

T = TypeVar("T")

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


class _TableIndex:
    """A norm table's keys indexed for lookups: one unique :class:`pandas.Index` per key column
    (the table's values cast to the probing frame's dtype, as a merge would), the table rows'
    combined level codes, and the medians.

    Built once per (table, keys, probe dtypes) and cached (:func:`_table_index`), so a lookup
    costs a few ``get_indexer`` calls on the probing rows instead of a merge that rebuilds hash
    tables of the whole table on every call (the fixed cost of scoring one claim online).
    """

    def __init__(
        self, table: pd.DataFrame, keys: Sequence[str], dtypes: Sequence[Any], value: str
    ) -> None:
        right = table[[*keys, value]]
        for k, dtype in zip(keys, dtypes, strict=True):
            right = right.astype({k: dtype})
        # levels keep the probe's dtype (no string inference): object probes then hash against
        # an object index instead of being converted per call
        self.levels = [pd.Index(pd.unique(right[k]), dtype=right[k].dtype) for k in keys]
        self.sizes = [max(len(level), 1) for level in self.levels]
        table_codes = [
            lvl.get_indexer(pd.Index(right[k])) for lvl, k in zip(self.levels, keys, strict=True)
        ]
        self.rows = self._combine(table_codes)
        if not self.rows.is_unique:  # a merge would duplicate probe rows: not a norm table
            raise ValueError(f"norm table keys {list(keys)} are not unique")
        self.median = right[value].to_numpy(dtype="float64")

    def _combine(self, codes: Sequence[np.ndarray]) -> pd.Index:
        """Mixed-radix int64 code of a key tuple (-1 when some level value is unknown); a
        MultiIndex of the codes when the radix would overflow int64."""
        if math.prod(self.sizes) >= 2**62:
            return pd.MultiIndex.from_arrays([np.asarray(c, dtype="int64") for c in codes])
        out = np.zeros(len(codes[0]), dtype="int64")
        missing = np.zeros(len(codes[0]), dtype=bool)
        for code, size in zip(codes, self.sizes, strict=True):
            out = out * size + code
            missing |= code < 0
        out[missing] = -1
        return pd.Index(out)

    def lookup(self, columns: Sequence[pd.Series]) -> np.ndarray:
        """The median of each probing row's key tuple, NaN when the table has none."""
        codes = [
            lvl.get_indexer(pd.Index(col, dtype=lvl.dtype))
            for lvl, col in zip(self.levels, columns, strict=True)
        ]
        pos = self.rows.get_indexer(self._combine(codes))
        vals = np.full(len(pos), np.nan)
        hit = pos >= 0
        vals[hit] = self.median[pos[hit]]
        return vals


_FITTED: dict[tuple[int, Hashable], Any] = {}


def fitted_cache(table: pd.DataFrame, key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` once per fitted ``table`` and ``key``; the entry goes when the table is
    collected.

    Only for fitted state (norms, profiles), which is never modified in place, so the table's
    identity is a safe cache key; data tables must not be cached this way.
    """
    ident = (id(table), key)
    if ident in _FITTED:
        return cast(T, _FITTED[ident])
    value = build()
    _FITTED[ident] = value
    weakref.finalize(table, _FITTED.pop, ident, None)
    return value


def _table_index(
    table: pd.DataFrame, keys: Sequence[str], dtypes: Sequence[Any], value: str = "median"
) -> _TableIndex:
    """The cached :class:`_TableIndex` of ``table`` (see :func:`fitted_cache`)."""
    key = ("table_index", tuple(keys), tuple(str(d) for d in dtypes), value)
    return fitted_cache(table, key, lambda: _TableIndex(table, keys, dtypes, value))


def lookup_backoff(
    frame: pd.DataFrame, levels: Sequence[tuple[Sequence[str], pd.DataFrame]]
) -> np.ndarray:
    """For each row of ``frame``, the median of the most specific level that has one.

    Keys match as in a left merge of ``frame`` with the table (the table's key columns cast to
    the frame's dtypes); the tables' key indexes are built once and cached.
    """
    out = np.full(len(frame), np.nan)
    for keys, table in levels:
        if table.empty:
            continue
        columns = [frame[k] for k in keys]
        index = _table_index(table, keys, [col.dtype for col in columns])
        vals = index.lookup(columns)
        fill = np.isnan(out) & ~np.isnan(vals)
        out[fill] = vals[fill]
    return out


def lookup_exact(
    frame: pd.DataFrame, keys: Sequence[str], table: pd.DataFrame, value: str
) -> np.ndarray:
    """For each row of ``frame``, ``value`` of the ``table`` row with the same ``keys`` (NaN for
    none): a left merge on the table's unique keys, through the cached key index."""
    if table.empty:
        return np.full(len(frame), np.nan)
    columns = [frame[k] for k in keys]
    return _table_index(table, keys, [col.dtype for col in columns], value).lookup(columns)


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where the denominator is missing or not positive."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    out = np.full(len(num), np.nan)
    ok = np.isfinite(den) & (den > 0) & np.isfinite(num)
    out[ok] = num[ok] / den[ok]
    return out
