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
#: Probes of at most this many rows take the binary-search path for string keys.
SMALL_PROBE = 256


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


class _SortedKeys:
    """Distinct key values sorted for :func:`numpy.searchsorted`, with the position of each in
    the :class:`pandas.Index` they came from.

    On the few rows of an online request a binary search in NumPy avoids what
    ``Index.get_indexer`` does on every call (its checks and, for Arrow strings, a conversion of
    the probe), and the lookups of one request make dozens of such calls. Only
    for keys that sort unambiguously: NumPy numbers without NaN, or strings (these compare as
    Python objects, so only for probes of at most :data:`SMALL_PROBE` rows).
    """

    def __init__(self, sorted_values: np.ndarray, positions: np.ndarray, strings: bool) -> None:
        self.values = sorted_values
        self.positions = positions
        self.strings = strings

    @classmethod
    def of(cls, index: pd.Index) -> _SortedKeys | None:
        """The sorted form of ``index`` (unique values), or None when it has none."""
        dtype = index.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            values = index.to_numpy()
            if dtype.kind == "f" and np.isnan(values).any():
                return None
            strings = False
        elif pd.api.types.is_string_dtype(dtype):
            values = index.to_numpy(dtype=object)
            if not all(isinstance(v, str) for v in values):  # once per fitted table
                return None
            strings = True
        else:
            return None
        order = np.argsort(values, kind="stable")
        return cls(values[order], order.astype("int64"), strings)

    def find(self, probe: pd.Series | np.ndarray) -> np.ndarray | None:
        """Position in the index of each probe value, -1 for none; None if the probe holds
        values that do not compare with the keys (the caller then asks the index)."""
        n = len(probe)
        if len(self.values) == 0:
            return np.full(n, -1, dtype="int64")
        if self.strings:
            if n > SMALL_PROBE:  # object comparisons: a hash lookup is faster on many rows
                return None
            arr = np.asarray(probe, dtype=object)
            ok = ~pd.isna(arr)
            if not all(isinstance(v, str) for v in arr[ok]):  # a claim's few keys
                return None
        else:
            arr = np.asarray(probe)
            if arr.dtype.kind not in "biuf":
                return None
            ok = np.ones(n, dtype=bool)
        out = np.full(n, -1, dtype="int64")
        present = arr[ok]
        j = np.minimum(np.searchsorted(self.values, present), len(self.values) - 1)
        hit = self.values[j] == present
        found = np.full(len(present), -1, dtype="int64")
        found[hit] = self.positions[j[hit]]
        out[ok] = found
        return out


class _TableIndex:
    """A norm table's keys indexed for lookups: one unique :class:`pandas.Index` per key column
    (the table's values cast to the probing frame's dtype, as a merge would), the table rows'
    combined level codes, and the medians.

    Built once per (table, keys, probe dtypes) and cached (:func:`_table_index`), so a lookup
    costs a few binary searches (:class:`_SortedKeys`; ``get_indexer`` for keys that do not
    sort) on the probing rows instead of a merge that rebuilds hash tables of the whole table on
    every call (the fixed cost of scoring one claim online).
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
        self.sorted_levels = [_SortedKeys.of(level) for level in self.levels]
        self.sizes = [max(len(level), 1) for level in self.levels]
        table_codes = [
            lvl.get_indexer(pd.Index(right[k])) for lvl, k in zip(self.levels, keys, strict=True)
        ]
        self.rows = pd.Index(self._combine(table_codes))
        if not self.rows.is_unique:  # a merge would duplicate probe rows: not a norm table
            raise ValueError(f"norm table keys {list(keys)} are not unique")
        self.sorted_rows = _SortedKeys.of(self.rows)
        self.median = right[value].to_numpy(dtype="float64")

    def _combine(self, codes: Sequence[np.ndarray]) -> np.ndarray | pd.MultiIndex:
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
        return out

    def lookup(self, columns: Sequence[pd.Series]) -> np.ndarray:
        """The median of each probing row's key tuple, NaN when the table has none."""
        codes = []
        for lvl, srt, col in zip(self.levels, self.sorted_levels, columns, strict=True):
            found = srt.find(col) if srt is not None else None
            if found is None:
                found = lvl.get_indexer(pd.Index(col, dtype=lvl.dtype))
            codes.append(found)
        combined = self._combine(codes)
        pos = None
        if self.sorted_rows is not None and isinstance(combined, np.ndarray):
            pos = self.sorted_rows.find(combined)
        if pos is None:
            pos = self.rows.get_indexer(pd.Index(combined))
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
