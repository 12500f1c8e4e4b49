"""Point-in-time machinery shared by every feature family.

A :class:`Context` holds the claims of a data set in history order (sorted by
``(submitted_at, claim_id)``, the contract's definition of a claim's history) with integer codes
for the entities, and the positions of the *target* claims whose features are wanted. Feature
families ask it for :class:`Groups`: the claims grouped by some key, each claim seeing only the
claims of its group that sort strictly before it. All windows and prefix sums are computed per
group, so a claim's features depend only on its own group's earlier rows: identical whatever other
claims share the call (batch independence) and unchanged by later claims (no leakage).

Everything is vectorised: sorting, ``searchsorted`` on composite ``(key, time)`` integers and
grouped cumulative sums; there is no Python loop over claims.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES, CHANNELS, PROVIDER_TYPES
from riskml.data import STR_DTYPE, ClaimsData, validate_frame
from riskml.errors import DataContractError
from riskml.features.norms import fitted_cache

DAY_S = 86_400
_SHIFT = np.int64(1) << np.int64(32)
#: Window pairs materialised at once by :meth:`Groups.window_pairs` (bounds their memory).
PAIR_BLOCK = 1 << 21
#: Group sums are exact integer sums of values rounded to this (2**-16): amounts of money keep
#: their cents, and a yuan total up to about 1.4e14 fits in int64.
SUM_QUANTUM = 2.0**-16


def day_numbers(values: pd.Series | pd.Index) -> np.ndarray:
    """Days since 1970-01-01 as float64 (NaN for missing dates)."""
    ns = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")
    out = ns.astype("datetime64[D]").astype("int64").astype("float64")
    out[np.isnat(ns)] = np.nan
    return out


def seconds(values: pd.Series) -> np.ndarray:
    """Whole seconds since 1970-01-01 as int64 (timestamps are never missing in claims)."""
    ns = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")
    return ns.astype("datetime64[s]").astype("int64")


def month_index(values: pd.Series | pd.Index) -> np.ndarray:
    """Months since 1970-01 as float64 (NaN for missing dates)."""
    ns = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")
    out = ns.astype("datetime64[M]").astype("int64").astype("float64")
    out[np.isnat(ns)] = np.nan
    return out


def codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of a column (-1 for missing); only equality of codes is meaningful."""
    return np.asarray(pd.factorize(values, use_na_sentinel=True)[0], dtype="int64")


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, ascending: ``np.unique(values)``, by one sort.

    numpy 2.4's ``np.unique`` takes a hash-based path without ``return_*`` arguments that costs
    about 10 s for 5M distinct int64 values on this machine (already sorted ones too), against
    0.1 s for a sort and a comparison with the neighbour.
    """
    v = np.asarray(values)
    if v.dtype.kind not in "iub":
        raise TypeError(f"sorted_unique takes integer arrays, not {v.dtype}")
    ordered = np.sort(v, axis=None)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def combine(*parts: np.ndarray) -> np.ndarray:
    """One int64 group code for several integer code columns (-1 if any part is -1).

    Codes are mixed-radix numbers factorised to ``0..k-1`` (a hash pass, no sort); if the radix
    product could overflow, a pandas group-by numbers the combinations instead.
    """
    arrays = [np.asarray(p, dtype="int64") for p in parts]
    n = len(arrays[0]) if arrays else 0
    bad = np.zeros(n, dtype=bool)
    for a in arrays:
        bad |= a < 0
    radix = [int(a.max()) + 2 if len(a) else 1 for a in arrays]
    if float(np.prod([float(r) for r in radix])) < 2.0**62:
        key = np.zeros(n, dtype="int64")
        for a, r in zip(arrays, radix, strict=True):
            key = key * np.int64(r) + (a + 1)
        out = np.asarray(pd.factorize(key)[0], dtype="int64")
    else:  # pragma: no cover - needs billions of distinct codes
        frame = pd.DataFrame({f"k{i}": a for i, a in enumerate(arrays)})
        out = np.array(frame.groupby(list(frame.columns), sort=False).ngroup(), dtype="int64")
    out[bad] = -1
    return out


def key_index(
    table: pd.DataFrame, column: str, name: str = "table", cache: bool = False
) -> pd.Index:
    """The unique string key ``column`` of ``table`` as an Index (for :func:`join_positions`).

    ``cache=True`` keeps it for the table's lifetime (:func:`fitted_cache`): only for fitted
    tables (norms, profiles), which are never modified in place; data tables are indexed on each
    call.
    """

    def build() -> pd.Index:
        index = pd.Index(table[column].astype("str"))
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise DataContractError(name, column, "key is not unique", dup)
        return index

    return fitted_cache(table, ("key_index", column), build) if cache else build()


def join_positions(index: pd.Index, keys: pd.Series | np.ndarray) -> np.ndarray:
    """Row of ``index`` (see :func:`key_index`) holding each of ``keys``, -1 for none: the row a
    left merge on that key attaches, by one hash lookup instead of a merge per call."""
    return np.asarray(index.get_indexer(pd.Index(keys)), dtype="int64")


def rows_at(values: pd.Series, pos: np.ndarray) -> pd.Series:
    """The rows ``pos`` of ``values`` (row 0 standing in for -1; ``values`` itself when empty),
    to derive a column for the joined rows only and then :func:`unmatched_nan` it."""
    return values.iloc[np.maximum(pos, 0)] if len(values) else values


def unmatched_nan(values: pd.Series | np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``values`` (one per joined row, see :func:`rows_at`) with NaN where ``pos`` is -1, as a
    left merge fills unmatched rows: float64 for numbers, object otherwise."""
    arr = np.asarray(values)
    dtype = "float64" if arr.dtype.kind in "biuf" else object
    miss = pos < 0
    if len(arr) != len(pos):  # an empty table: nothing matched
        return np.full(len(pos), np.nan, dtype=dtype)
    out = arr.astype(dtype)  # a copy
    out[miss] = np.nan
    return out


def take(values: pd.Series | np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``values[pos]`` (one per table row) with NaN where ``pos`` is -1, as a left merge fills
    unmatched rows: float64 for numbers, object otherwise."""
    arr = np.asarray(values)
    return unmatched_nan(arr[np.maximum(pos, 0)] if len(arr) else arr, pos)


class Columns:
    """A family's intermediate columns, gathered in a dict and made one DataFrame at the end.

    Inserting columns one at a time into a DataFrame rebuilds its column labels (an Arrow string
    index under pandas 3) on every insert, and the families insert about 150 columns per call;
    on a one-claim request that overhead dominated. Assigning here and
    calling :meth:`frame` once builds the same frame (same values, dtypes and column order: the
    constructor aligns Series and broadcasts scalars exactly as ``frame[name] = value`` does).
    Reading a column gives the Series the frame would hold.
    """

    def __init__(self, index: pd.Index | np.ndarray, start: pd.DataFrame | None = None) -> None:
        self.index = pd.Index(index)
        self._cols: dict[str, object] = {}
        if start is not None:
            for name in start.columns:
                self._cols[str(name)] = start[name]

    def __setitem__(self, name: str, value: object) -> None:
        self._cols[name] = value

    def __getitem__(self, name: str) -> pd.Series:
        value = self._cols[name]
        if isinstance(value, pd.Series):
            if not value.index.equals(self.index):
                value = value.reindex(self.index)
            return value.rename(name)
        return pd.Series(value, index=self.index, name=name)

    def __contains__(self, name: object) -> bool:
        return name in self._cols

    def update(self, frame: pd.DataFrame | Mapping[str, object]) -> None:
        """Add (or replace) the columns of ``frame`` (a frame, aligned on the index like a left
        join, or named columns)."""
        if not isinstance(frame, pd.DataFrame):
            for name, value in frame.items():
                self._cols[name] = value
            return
        for name in frame.columns:
            self._cols[str(name)] = frame[name]

    def frame(self) -> pd.DataFrame:
        """The columns as one DataFrame on :attr:`index`, each column kept as its own block: the
        features read it column by column, and consolidating ~50 float columns into one 2-D
        block copied them all (3.8 s of a 528,000-claim pass)."""
        return pd.DataFrame(self._cols, index=self.index, copy=False)


def dx3(diagnosis: pd.Series) -> pd.Series:
    """ICD-10 category: the first three characters of the diagnosis code, upper case."""
    return diagnosis.astype("str").str.upper().str.slice(0, 3).where(diagnosis.notna())


class Groups:
    """Rows grouped by ``key`` in history order; each row sees the rows of its group before it.

    ``key`` < 0 marks rows that belong to no group; their results are NaN / 0.
    ``time`` (int64 seconds or days, non-decreasing with rank inside a group) feeds windows.
    """

    def __init__(self, key: np.ndarray, rank: np.ndarray, time: np.ndarray | None = None) -> None:
        key = np.asarray(key, dtype="int64")
        n = len(key)
        self.n = n
        self.valid = key >= 0
        order = np.lexsort((rank, key))
        self.order = order
        ks = key[order]
        self.key_sorted = ks
        pos = np.empty(n, dtype="int64")
        pos[order] = np.arange(n, dtype="int64")
        self.pos = pos
        start_flag = np.ones(n, dtype=bool)
        start_flag[1:] = ks[1:] != ks[:-1]
        idx = np.where(start_flag, np.arange(n), 0)
        group_start_sorted = np.maximum.accumulate(idx) if n else idx
        self.start = group_start_sorted[pos]
        self.time_sorted: np.ndarray | None = None
        if time is not None:
            t = np.asarray(time, dtype="int64")
            self.time_sorted = t[order]
            self._composite = ks * _SHIFT + self.time_sorted

    def previous(self) -> np.ndarray:
        """Row index of the latest earlier row of the group, or -1."""
        prev_sorted = self.pos - 1
        has = (self.pos > self.start) & self.valid
        out = np.full(self.n, -1, dtype="int64")
        out[has] = self.order[prev_sorted[has]]
        return out

    def window_start(self, time: np.ndarray, width: int | np.ndarray) -> np.ndarray:
        """Sorted position of the first row of the group with time >= ``time - width`` (one
        ``width`` for all rows, or an int64 one per row)."""
        if self.time_sorted is None:
            raise ValueError("Groups built without time cannot answer window queries")
        # probes in the sorted rows' order: within a group they ascend with the rows' times, so
        # the binary searches walk the sorted keys in order (at 5M rows 12x faster than probing
        # in history order, where each search lands far from the last); same probes, same answer
        k = np.where(self.key_sorted >= 0, self.key_sorted, 0)
        start = np.asarray(time, dtype="int64") - np.asarray(width, dtype="int64")  # per row
        probe = k * _SHIFT + start[self.order]
        j = np.searchsorted(self._composite, probe, side="left")[self.pos]
        return np.maximum(j, self.start)

    def window_count(self, time: np.ndarray, width: int | np.ndarray) -> np.ndarray:
        """Earlier rows of the group whose time lies in ``[time - width, ...]`` (``width`` as in
        :meth:`window_start`)."""
        out = (self.pos - self.window_start(time, width)).astype("float64")
        out = np.maximum(out, 0.0)
        out[~self.valid] = np.nan
        return out

    def window_first_time(self, time: np.ndarray, width: int) -> np.ndarray:
        """Time of the earliest earlier row of the group with time >= ``time - width`` (NaN when
        there is none): when the entity was first seen within the window."""
        if self.time_sorted is None:
            raise ValueError("Groups built without time cannot answer window queries")
        j = self.window_start(time, width)
        has = (j < self.pos) & self.valid
        out = np.full(self.n, np.nan)
        out[has] = self.time_sorted[j[has]]
        return out

    def _exclusive_prefix(self, values: np.ndarray) -> np.ndarray:
        """Per sorted position: the running sum of ``values`` over the sorted rows before it, in
        units of :data:`SUM_QUANTUM` (int64; one extra trailing entry, the total). The sum over
        sorted positions ``[j, i)`` of one group is ``excl[i] - excl[j]``.

        Sums are exact integers of values rounded to :data:`SUM_QUANTUM`, so a window's sum is the
        same bits however many older rows precede it: a chunk whose history is cut at the reach
        gets exactly the sums of the one pass (float prefix sums differ in the last bits, and a
        last bit can move a claim across a tree's split). One running sum over all groups is
        enough: the difference of two entries is exact even where the running sum wraps around
        int64, as long as the window's own sum fits (about 1.4e14 yuan).
        """
        v = np.nan_to_num(np.asarray(values, dtype="float64")[self.order])
        excl = np.zeros(self.n + 1, dtype="int64")
        np.cumsum(np.rint(v / SUM_QUANTUM).astype("int64"), out=excl[1:])
        return excl

    def window_sum(self, values: np.ndarray, time: np.ndarray, width: int) -> np.ndarray:
        """Sum of ``values`` over earlier rows of the group with time >= ``time - width`` (to
        :data:`SUM_QUANTUM`)."""
        excl = self._exclusive_prefix(values)
        j = self.window_start(time, width)
        out = (excl[self.pos] - excl[j]) * SUM_QUANTUM
        out[~self.valid] = np.nan
        return out

    def prior_max(self, values: np.ndarray) -> np.ndarray:
        """Maximum of ``values`` over earlier rows of the group, as a grouped ``cummax`` read at
        the previous row: NaN when there is none, and also whenever the previous row's value is
        NaN (pandas leaves NaN where the value is NaN). Features of claims_v1 and claims_v2 are
        pinned on this; :meth:`prior_nanmax` skips missing values."""
        v = np.asarray(values, dtype="float64")[self.order]
        return self._at_previous(pd.Series(v).groupby(self.key_sorted).cummax().to_numpy())

    def prior_nanmax(self, values: np.ndarray) -> np.ndarray:
        """Maximum of the non-missing ``values`` over earlier rows of the group (NaN when there
        is none): the latest time of an earlier row of some kind, whatever came after it."""
        v = np.asarray(values, dtype="float64")[self.order]
        running = pd.Series(v).groupby(self.key_sorted).cummax()
        return self._at_previous(running.groupby(self.key_sorted).ffill().to_numpy())

    def _at_previous(self, run: np.ndarray) -> np.ndarray:
        """Per row, ``run`` (one value per sorted position) at the group's previous row; NaN for
        a row without one or in no group."""
        out = np.full(self.n, np.nan)
        has = (self.pos > self.start) & self.valid
        out[has] = run[self.pos[has] - 1]
        return out

    def window_previous(self, time: np.ndarray, width: int) -> np.ndarray:
        """Row index of the latest earlier row of the group with time >= ``time - width``, or -1."""
        prev = self.previous()
        has = prev >= 0
        t = np.asarray(time, dtype="int64")
        has[has] = t[has] - t[prev[has]] <= width
        return np.where(has, prev, -1)

    def window_pairs(
        self, time: np.ndarray, width: int, block: int | None = None
    ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """Every (row, earlier row of its group with time >= ``time - width``) pair, as two arrays
        of row indexes, in blocks of whole rows (``slice``) of about ``block`` (:data:`PAIR_BLOCK`)
        pairs.

        The cost is the sum of the window counts: fine for per-person windows (tens of claims),
        not for a provider's year; the blocks bound the memory of a pass over a large data set.
        """
        block = block or PAIR_BLOCK
        j = self.window_start(time, width)
        counts = np.where(self.valid, np.maximum(self.pos - j, 0), 0)
        ends = np.cumsum(counts)
        total = int(ends[-1]) if self.n else 0
        cuts = np.searchsorted(ends, np.arange(block, total, block), side="left") + 1
        edges = np.unique(np.concatenate([[0], np.minimum(cuts, self.n), [self.n]]))
        for a, b in itertools.pairwise(edges.tolist()):
            c = counts[a:b]
            row = np.repeat(np.arange(a, b, dtype="int64"), c)
            first = np.cumsum(c) - c
            offset = np.arange(len(row), dtype="int64") - np.repeat(first, c)
            yield slice(a, b), row, self.order[np.repeat(j[a:b], c) + offset]

    def window_max(
        self, values: np.ndarray, time: np.ndarray, width: int, block: int | None = None
    ) -> np.ndarray:
        """Maximum of ``values`` over the earlier rows of the group with time >= ``time - width``
        (NaN when none or all NaN)."""
        out = np.full(self.n, np.nan)
        v_all = np.asarray(values, dtype="float64")
        for _, row, other in self.window_pairs(time, width, block):
            v = v_all[other]
            keep = ~np.isnan(v)
            np.fmax.at(out, row[keep], v[keep])
        return out

    def window_min(
        self, values: np.ndarray, time: np.ndarray, width: int, block: int | None = None
    ) -> np.ndarray:
        """Minimum of ``values`` over the earlier rows of the group with time >= ``time - width``
        (NaN when none or all NaN)."""
        return -self.window_max(-np.asarray(values, dtype="float64"), time, width, block)

    def window_distinct(
        self,
        codes: np.ndarray,
        time: np.ndarray,
        width: int,
        include_self: bool = False,
        block: int | None = None,
    ) -> np.ndarray:
        """Distinct non-negative ``codes`` among the earlier rows of the group with time >=
        ``time - width`` (and the row itself with ``include_self``); NaN for rows in no group."""
        c = np.asarray(codes, dtype="int64")
        radix = np.int64(c.max(initial=0)) + 1
        out = np.zeros(self.n, dtype="float64")
        for rows, row, other in self.window_pairs(time, width, block):
            if include_self:
                own = np.arange(rows.start, rows.stop, dtype="int64")[self.valid[rows]]
                row = np.concatenate([row, own])
                other = np.concatenate([other, own])
            code = c[other]
            keep = code >= 0
            pairs = sorted_unique(row[keep] * radix + code[keep])
            out += np.bincount(pairs // radix, minlength=self.n)
        out[~self.valid] = np.nan
        return out


def _str_or_nan(values: pd.Series) -> pd.Series:
    """``values`` as ``str`` with missing values kept missing; a no-op on loader frames, which
    are in that dtype already, so the online path pays no conversion."""
    if values.dtype == STR_DTYPE:
        return values
    return values.astype("str").where(values.notna())


def index_items(claim_items: pd.DataFrame, claim_ids: pd.Series) -> pd.DataFrame:
    """Line items keyed by the history position of their claim (``pos``; items of claims not in
    the context are dropped), with integer codes for item and category."""
    pos = pd.Index(claim_ids.to_numpy()).get_indexer(claim_items["claim_id"].astype("str"))
    keep = pos >= 0
    it = claim_items if keep.all() else claim_items.loc[keep]
    item_code = it["item_code"].astype("str")  # codes by Arrow's hash: faster than objects'
    columns: dict[str, np.ndarray] = {
        "pos": pos[keep].astype("int64"),
        "item_code": item_code.to_numpy(dtype=object),
        "category": it["item_category"].astype("str").to_numpy(dtype=object),
        "quantity": it["quantity"].astype("float64").to_numpy(),
        "unit_price": it["unit_price"].astype("float64").to_numpy(),
        "amount": it["amount"].astype("float64").to_numpy(),
        "item": codes(item_code),
    }
    if "trace_code" in it.columns:
        columns["trace"] = codes(_str_or_nan(it["trace_code"]))
    return pd.DataFrame(columns)


@dataclass
class Context:
    """Claims in history order plus the static tables, and which claims are the targets.

    ``claims`` has a RangeIndex equal to the history rank. Derived columns: ``person``,
    ``provider``, ``employer``, ``doctor`` (int codes, -1 for none), ``bt`` (index into
    BENEFIT_TYPES),
    ``channel_code``, ``sub_s`` (submitted_at seconds), ``sub_day``/``ss_day``/``se_day``
    (days), ``ss_month``/``sub_month`` (month index), ``dx3``, ``province`` (first two digits
    of region_code), ``region``.
    """

    data: ClaimsData
    claims: pd.DataFrame
    targets: np.ndarray
    _items: pd.DataFrame | None = None
    _keys: dict[tuple[str, str], pd.Index] = field(default_factory=dict)
    _slices: dict[str, tuple[np.ndarray, pd.DataFrame]] = field(default_factory=dict)

    def target_claims(self) -> pd.DataFrame:
        """``claims`` at the target positions (a fresh RangeIndex), sliced once per context:
        every family reads it, and families never modify it."""
        if "" not in self._slices:
            frame = self.claims.iloc[self.targets].reset_index(drop=True)
            self._slices[""] = (self.targets, frame)
        return self._slices[""][1]

    def entity_claims(self, column: str) -> tuple[np.ndarray, pd.DataFrame]:
        """Positions of the claims sharing a ``column`` code with a target (see
        :meth:`rows_of_target_entities`) and ``claims`` at them, sliced once per context."""
        if column not in self._slices:
            rows = np.flatnonzero(self.rows_of_target_entities(column))
            self._slices[column] = (rows, self.claims.iloc[rows].reset_index(drop=True))
        return self._slices[column]

    def key_index(self, table: str, column: str) -> pd.Index:
        """:func:`key_index` of the data's ``table`` (e.g. ``"persons"``), built once per
        context: several families join the same static table."""
        if (table, column) not in self._keys:
            self._keys[(table, column)] = key_index(getattr(self.data, table), column, table)
        return self._keys[(table, column)]

    @property
    def items(self) -> pd.DataFrame:
        """The data's line items keyed by claim position (see :func:`index_items`), built once."""
        if self._items is None:
            self._items = index_items(self.data.claim_items, self.claims["claim_id"])
        return self._items

    def target_items(self) -> pd.DataFrame:
        """:meth:`items_of` the targets, selected once per context (families never modify
        it)."""
        if "items:targets" not in self._slices:
            self._slices["items:targets"] = (self.targets, self.items_of(self.targets))
        return self._slices["items:targets"][1]

    def target_item_codes(self) -> pd.DataFrame:
        """The distinct (``pos``, ``item_code``) pairs of :meth:`target_items`, once per
        context."""
        if "item_codes:targets" not in self._slices:
            codes = self.target_items()[["pos", "item_code"]].drop_duplicates()
            self._slices["item_codes:targets"] = (self.targets, codes)
        return self._slices["item_codes:targets"][1]

    def items_of(self, rows: np.ndarray) -> pd.DataFrame:
        """Line items of the claims at positions ``rows``."""
        mask = np.zeros(self.n, dtype=bool)
        mask[rows] = True
        it = self.items
        return it.loc[mask[it["pos"].to_numpy()]]

    @property
    def n(self) -> int:
        return len(self.claims)

    def target_mask(self) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        mask[self.targets] = True
        return mask

    def rows_of_target_entities(self, column: str) -> np.ndarray:
        """Mask of claims sharing a (non-missing) ``column`` code with some target claim."""
        col = self.claims[column].to_numpy()
        wanted = sorted_unique(col[self.targets])
        wanted = wanted[wanted >= 0]
        return np.isin(col, wanted)


def category_codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """Position of each value in ``categories`` (-1 for missing or unknown): the codes of
    ``pd.Categorical(values.astype("str"), categories=...)``, by one hash lookup."""
    probe = pd.Index(_str_or_nan(values).to_numpy(dtype=object), dtype=object)
    return np.asarray(categories.get_indexer(probe), dtype="int64")


_BENEFIT_TYPES = pd.Index(list(BENEFIT_TYPES), dtype=object)
_CHANNELS = pd.Index(list(CHANNELS), dtype=object)


def history_order(claims: pd.DataFrame) -> np.ndarray:
    """Row order of ``claims`` by ``(submitted_at, claim_id)``, ties kept in row order: what
    ``sort_values([...], kind="mergesort")`` gives, without sorting the whole frame."""
    sub = pd.to_datetime(claims["submitted_at"]).to_numpy(dtype="datetime64[ns]")
    ids = pd.factorize(claims["claim_id"].astype("str"), sort=True)[0]
    return np.lexsort((ids, sub.astype("int64")))


def build_context(data: ClaimsData, claims: pd.DataFrame | None) -> Context:
    """Put ``data.claims`` (plus any target claims not in it) in history order."""
    base = data.claims
    if claims is None:
        universe = base
        target_ids = base["claim_id"]
    else:
        # a hash lookup: Series.isin of Arrow strings converts the wanted values one by one
        known = pd.Index(base["claim_id"]).unique().get_indexer(claims["claim_id"]) >= 0
        if known.all():
            universe = base
        else:
            # claims the data does not hold (an online request): checked against the contract
            extra = validate_frame(claims.iloc[np.flatnonzero(~known)], "claims")
            cols = base.columns.intersection(extra.columns)
            universe = pd.concat([base, extra[cols]], ignore_index=True)
        target_ids = claims["claim_id"]
    c = universe.take(history_order(universe)).reset_index(drop=True)
    out = Columns(c.index)
    out["claim_id"] = c["claim_id"].astype("str")
    out["person_id"] = c["person_id"].astype("str")
    out["provider_id"] = _str_or_nan(c["provider_id"])
    out["employer_id"] = _str_or_nan(c["employer_id"])
    out["person"] = codes(out["person_id"])
    out["provider"] = codes(out["provider_id"])
    out["employer"] = codes(out["employer_id"])
    if "doctor_id" in c.columns:
        out["doctor"] = codes(_str_or_nan(c["doctor_id"]))
    else:
        out["doctor"] = np.full(len(c), -1, dtype="int64")
    out["bt"] = category_codes(c["benefit_type"], _BENEFIT_TYPES)
    out["channel_code"] = category_codes(c["channel"], _CHANNELS).astype("float64")
    out["region"] = c["region_code"].astype("str")
    out["region_code"] = codes(out["region"])
    out["province"] = out["region"].str.slice(0, 2).astype("int64")
    out["sub_s"] = seconds(c["submitted_at"])
    out["sub_day"] = out["sub_s"] // DAY_S
    out["sub_month"] = month_index(c["submitted_at"])
    out["ss_day"] = day_numbers(c["service_start"])
    out["se_day"] = day_numbers(c["service_end"])
    out["ss_month"] = month_index(c["service_start"])
    out["se_month"] = month_index(c["service_end"])
    out["dx3"] = dx3(c["diagnosis_code"])
    out["dx3_code"] = codes(out["dx3"])
    out["amount"] = c["amount_claimed"].astype("float64").to_numpy()
    out["rank"] = np.arange(len(c), dtype="int64")
    frame = out.frame()
    ids = pd.Index(out["claim_id"].to_numpy(dtype=object), dtype=object)
    wanted = pd.Index(target_ids.astype("str").to_numpy(dtype=object), dtype=object)
    if ids.is_unique:
        targets = ids.get_indexer(wanted)
    else:  # the first row of each id, as a reindex on the deduplicated positions
        pos_of = pd.Series(frame.index.to_numpy(), index=frame["claim_id"].to_numpy())
        pos_of = pos_of[~pos_of.index.duplicated(keep="first")]
        targets = pos_of.reindex(wanted.to_numpy()).to_numpy()
    return Context(data=data, claims=frame, targets=np.asarray(targets, dtype="int64"))


__all__ = [
    "DAY_S",
    "PROVIDER_TYPES",
    "Columns",
    "Context",
    "Groups",
    "build_context",
    "category_codes",
    "codes",
    "combine",
    "day_numbers",
    "dx3",
    "month_index",
    "seconds",
]
