"""Load and validate a data directory (CONTRACT.md section 1).

Every reader goes through :func:`load_data_dir` or :func:`validate_frame`, so bad data is refused
in one place with an error naming the table, column and an example offending value.

In memory, dates and timestamps are ``datetime64[ns]`` (dates at midnight), strings use pandas'
string dtype, nullable integers ``Int64``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyarrow.fs import FileType

from riskml.contract import (
    CASH_ADVANCE_DAYS,
    CASH_BENEFITS,
    LATE_SUBMISSION_DAYS,
    LONG_SERVICE_DAYS,
    MEDICAL_BENEFITS,
    ROUNDING_CNY,
    TABLES,
    ColumnSpec,
    Plausibility,
    TableSpec,
    arrow_schema,
    region_codes,
)
from riskml.errors import DataContractError
from riskml.io import atomic_path
from riskml.location import Location

log = logging.getLogger(__name__)

_MIDNIGHT_NS = np.int64(86_400 * 10**9)
#: The loader's string dtype (pandas' ``str``): columns already in it need no conversion.
STR_DTYPE = pd.Series([], dtype="str").dtype


@dataclass
class ClaimsData:
    """The validated tables of one data directory."""

    persons: pd.DataFrame
    employers: pd.DataFrame
    providers: pd.DataFrame
    contributions: pd.DataFrame
    claims: pd.DataFrame
    claim_items: pd.DataFrame
    labels: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    def write(self, out: Path | str, extra_files: dict[str, object] | None = None) -> None:
        """Write every table as ``<table>.parquet`` into ``out`` atomically (all or nothing)."""
        with atomic_path(out) as tmp:
            tmp.mkdir(parents=True)
            for name, frame in self.tables().items():
                write_table(frame, tmp / f"{name}.parquet", name)
            for fname, obj in (extra_files or {}).items():
                (tmp / fname).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))


@dataclass(frozen=True)
class Finding:
    """A warning of the plausibility rules: rows that look wrong but that a scheme may
    legitimately have, counted (errors, where the contract is broken, raise instead)."""

    table: str
    column: str
    rule: str
    problem: str
    count: int
    rows: int
    example: str | None = None

    def __str__(self) -> str:
        text = f"{self.table}.{self.column}: {self.count:,d} of {self.rows:,d} {self.problem}"
        return text + (f" (e.g. {self.example})" if self.example else "")


def isin(values: pd.Series | pd.Index, wanted: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """``values.isin(wanted)`` as a bool array, by one Arrow hash lookup.

    pandas' own ``isin`` on Arrow strings converts ``wanted`` one value at a time (seconds for the
    hundreds of thousands of ids a batch chunk's history holds). Missing values never match;
    ``wanted`` may repeat values (Arrow's lookup set takes them as they are, without a copy).
    """
    wanted_arr = pa.array(pd.Series(wanted), from_pandas=True)
    values_arr = pa.array(values, from_pandas=True)
    if len(wanted_arr) == 0 or len(values_arr) == 0:
        return np.zeros(len(values_arr), dtype=bool)
    if wanted_arr.type != values_arr.type:
        wanted_arr = wanted_arr.cast(values_arr.type)
    hit = pc.is_in(values_arr, value_set=wanted_arr, skip_nulls=True)
    return np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def write_table(frame: pd.DataFrame, path: Path, table: str) -> None:
    """Write a contract table to Parquet with the contract's Arrow schema."""
    spec = TABLES[table]
    present = tuple(c.name for c in spec.columns if c.name in frame.columns)
    schema = arrow_schema(table, present)
    arrays = []
    for field in schema:
        col = spec.column(field.name)
        values = frame[field.name]
        if col.kind == "date":
            values = pd.to_datetime(values).dt.date
        elif col.kind == "int":
            values = values.astype("Int64")
        arrays.append(pa.array(values, type=field.type, from_pandas=True))
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="zstd")


#: What Arrow raises on a damaged, truncated or unreadable Parquet file (``ArrowIOError`` is
#: ``OSError``; decoding errors are ``ArrowInvalid``, unsupported encodings
#: ``ArrowNotImplementedError``, all ``ArrowException``).
READ_ERRORS: tuple[type[Exception], ...] = (pa.ArrowException, OSError)
_READ_HINT = (
    "hint: the file is damaged, truncated or not Parquet; copy or export it again from the source"
)
#: The instants pandas can hold in ``datetime64[ns]`` (about 1677-09-22 to 2262-04-11).
_NS_RANGE = (np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max)


def one_line(text: object, limit: int = 300) -> str:
    """``text`` on one line (Arrow's messages span several), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def unreadable(table: str, exc: BaseException, column: str | None = None) -> DataContractError:
    """The one-line error for a table (or column) that Arrow could not read or decode."""
    return DataContractError(table, column, f"cannot read Parquet: {one_line(exc)}; {_READ_HINT}")


def table_dataset(directory: Path | Location, spec: TableSpec) -> pads.Dataset | None:
    """The table ``spec`` of ``directory`` (``name.parquet``, or a ``name/`` or ``name.parquet/``
    folder of parts as Spark writes them) as an Arrow dataset, not read yet; None when absent.
    ``directory`` is a path of this machine or a :class:`~riskml.location.Location` (a URL's
    file system, read through it)."""
    if isinstance(directory, Location):
        return _location_dataset(directory, spec)
    file = directory / f"{spec.name}.parquet"
    folder = directory / spec.name
    try:
        if file.is_file():
            return pads.dataset(file, format="parquet")
        for parts in (folder, file):
            if parts.is_dir():
                return pads.dataset(parts, format="parquet")
        if file.exists() or file.is_symlink():
            raise DataContractError(
                spec.name,
                None,
                f"{file} is neither a readable file nor a folder of Parquet parts (a broken link?)",
            )
    except READ_ERRORS as exc:
        raise unreadable(spec.name, exc) from exc
    return None


def _location_dataset(directory: Location, spec: TableSpec) -> pads.Dataset | None:
    """:func:`table_dataset` on a URL's file system: the same three spellings, in that order."""
    file = directory.child(f"{spec.name}.parquet")
    folder = directory.child(spec.name)
    try:
        for candidate, wanted in (
            (file, FileType.File),
            (folder, FileType.Directory),
            (file, FileType.Directory),
        ):
            if candidate.file_type() == wanted:
                return pads.dataset(
                    candidate.path, format="parquet", filesystem=candidate.filesystem
                )
    except READ_ERRORS as exc:
        raise unreadable(spec.name, exc) from exc
    return None


def read_dataset(dataset: pads.Dataset, spec: TableSpec) -> pa.Table:
    """All of ``dataset`` as one Arrow table; a damaged file is a one-line
    :class:`DataContractError` naming the table."""
    try:
        return dataset.to_table()
    except READ_ERRORS as exc:
        raise unreadable(spec.name, exc) from exc


def _read_arrow(directory: Path | Location, spec: TableSpec) -> pa.Table | None:
    dataset = table_dataset(directory, spec)
    if dataset is None:
        return None
    return read_dataset(dataset, spec)


#: What an example shows in place of personal data (:attr:`ColumnSpec.personal`).
WITHHELD = "a person id (withheld)"


def _example(df: pd.DataFrame, mask: pd.Series | np.ndarray, spec: TableSpec, column: str) -> str:
    """The first offending value of ``column`` where ``mask`` holds, with the row's key; a person
    id (personal data) is never shown: the row's number in the table stands for it."""
    row = df.loc[np.asarray(mask)].iloc[0]
    return _describe(row, spec, column, list(df.columns))


def _describe(row: pd.Series, spec: TableSpec, column: str | None, columns: list[str]) -> str:
    personal = {c.name for c in spec.columns if c.personal}
    keys = [k for k in spec.key if k in columns and k != column]
    shown = [f"{k}={row[k]!s}" for k in keys if k not in personal]
    if personal & {column, *keys} and isinstance(row.name, int | np.integer):
        shown.append(f"row {int(row.name) + 1:,d}")
    key = ", ".join(shown)
    if column is None:
        return key
    value = WITHHELD if column in personal else f"{row[column]!s}"
    return value + (f" at {key}" if key else "")


def coerce_column(arr: pa.ChunkedArray | pa.Array, col: ColumnSpec, table: str) -> pd.Series:
    """Convert one Arrow column to its in-memory dtype, accepting lenient but unambiguous types."""
    if arr.null_count == len(arr) and not pa.types.is_null(arr.type):
        # no value to misread: a zero-row or all-null column of any Parquet type (pandas writes
        # the empty columns of an empty frame as double) is the column's kind; a null where
        # none may be is then reported as such
        return null_column(col.kind, pd.RangeIndex(len(arr)))
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    wrong = DataContractError(table, col.name, f"expected {col.kind}, found Parquet type {t}")
    if col.kind == "str":
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
            raise wrong
        return pd.Series(arr.to_pandas(), dtype="str")
    if col.kind in ("date", "timestamp"):
        if pa.types.is_null(t):
            return pd.Series(pd.NaT, index=range(len(arr)), dtype="datetime64[ns]")
        if not (pa.types.is_date(t) or pa.types.is_timestamp(t)):
            raise wrong
        _check_representable(arr, col, table)
        if pa.types.is_date(t):
            ser = pd.Series(arr.cast(pa.timestamp("ns")).to_pandas())
        elif pa.types.is_timestamp(t):
            if t.tz is not None:
                arr = arr.cast(pa.timestamp(t.unit, tz="Asia/Shanghai"))
                ser = pd.Series(arr.to_pandas()).dt.tz_localize(None)
            else:
                ser = pd.Series(arr.to_pandas())
        ser = ser.astype("datetime64[ns]")
        if col.kind == "date":
            ns = ser.dropna().to_numpy(dtype="datetime64[ns]").astype(np.int64)
            off = ns[(ns % _MIDNIGHT_NS) != 0]
            if off.size:
                raise DataContractError(
                    table,
                    col.name,
                    "date column holds timestamps that are not at midnight",
                    str(pd.Timestamp(int(off[0]))),
                )
        return ser
    if col.kind == "float":
        if not (
            pa.types.is_floating(t)
            or pa.types.is_integer(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        ):
            raise wrong
        return pd.Series(arr.cast(pa.float64()).to_pandas(), dtype="float64")
    if col.kind == "int":
        if pa.types.is_integer(t) or pa.types.is_null(t):
            return pd.Series(arr.to_pandas()).astype("Int64")
        if pa.types.is_floating(t):
            ser = pd.Series(arr.to_pandas(), dtype="float64")
            frac = ser.dropna()
            frac = frac[(frac != np.floor(frac)) | ~np.isfinite(frac)]
            if len(frac):
                raise DataContractError(
                    table, col.name, "integer column holds fractions", float(frac.iloc[0])
                )
            return ser.astype("Int64")
        raise wrong
    if col.kind == "bool":
        if not (pa.types.is_boolean(t) or pa.types.is_null(t)):
            raise wrong
        return pd.Series(arr.to_pandas()).astype("boolean")
    raise AssertionError(col.kind)  # pragma: no cover


def _check_utf8(arr: pa.ChunkedArray, col: ColumnSpec, table: str) -> None:
    """Refuse text that is not valid UTF-8 (a damaged page of an uncompressed file): every later
    step would fail on it far from here. One vectorised pass over the bytes (about 6 ms per
    million short ids)."""
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise DataContractError(
            table, col.name, f"text is not valid UTF-8 ({one_line(exc, 120)}); {_READ_HINT}"
        ) from exc


def _check_representable(arr: pa.ChunkedArray | pa.Array, col: ColumnSpec, table: str) -> None:
    """Refuse dates and timestamps outside what ``datetime64[ns]`` holds (about 1677 to 2262),
    naming the first such value: what a corrupted page or a wrong time unit produces."""
    t = arr.type
    if pa.types.is_date(t):
        unit, per_unit = "D", 86_400 * 10**9
        raw = arr.cast(pa.int32() if t == pa.date32() else pa.int64())
    else:
        unit = t.unit
        per_unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
        raw = arr.cast(pa.int64())
    lo, hi = _NS_RANGE[0] // per_unit + 1, _NS_RANGE[1] // per_unit - 1
    bounds = pc.min_max(raw)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (low >= lo and high <= hi):
        return
    values = np.asarray(pc.fill_null(raw, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    bad = values[(values < lo) | (values > hi)][0]
    shown = str(np.array([bad], dtype=np.int64).view(f"datetime64[{unit}]")[0])
    raise DataContractError(
        table,
        col.name,
        f"{col.kind} outside the range 1677-09-22 .. 2262-04-11 that can be held; hint: the "
        "file is damaged, or the column was written in another time unit",
        shown,
    )


#: Arrow types of each column kind that :func:`coerce_column` converts without any check or
#: adjustment (dates also from ``date32``, always at midnight; all-null columns of any kind
#: but int), each cast to the first type listed, and the pandas dtypes that are not Arrow's
#: default conversion.
_PLAIN: dict[str, tuple[pa.DataType, ...]] = {
    "str": (pa.large_string(), pa.string(), pa.null()),
    "float": (pa.float64(), pa.null()),
    "int": (pa.int64(),),
    "bool": (pa.bool_(), pa.null()),
    "date": (pa.timestamp("ns"), pa.date32(), pa.null()),
    "timestamp": (
        pa.timestamp("ns"),
        pa.timestamp("us"),
        pa.timestamp("ms"),
        pa.timestamp("s"),
        pa.null(),
    ),
}
#: Arrow types whose pandas form in the loader is not Arrow's default conversion: ``str``,
#: ``Int64`` and ``boolean`` (floats and ``timestamp[ns]`` convert as they are). The
#: ``types_mapper`` of every Arrow-to-pandas conversion into contract dtypes.
LOADER_PANDAS_TYPES: dict[pa.DataType, object] = {
    pa.string(): pd.StringDtype("pyarrow", na_value=np.nan),
    pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _coerce_plain(table: pa.Table, columns: list[ColumnSpec]) -> pd.DataFrame | None:
    """The columns converted in one ``to_pandas`` call when every one is already of a plain
    Arrow type of its kind (:data:`_PLAIN`): what :func:`coerce_column` returns, value for value;
    None otherwise (also when a cast fails: :func:`coerce_column` then reports it).

    Converting column by column into Series and then a DataFrame costs about 2 ms per table of
    an online request, whatever its size. Date columns stored as timestamps (which must be at
    midnight) and integer columns with nulls (converted through float64 there) are left to
    :func:`coerce_column`.
    """
    arrays = []
    for col in columns:
        arr = table.column(col.name)
        plain = _PLAIN[col.kind]
        if arr.type not in plain or (col.kind == "int" and arr.null_count):
            return None
        if col.kind == "date" and arr.type == pa.timestamp("ns") and arr.null_count < len(arr):
            return None  # the midnight check
        try:
            arrays.append(arr if arr.type == plain[0] else arr.cast(plain[0]))
        except pa.ArrowInvalid:
            return None
    names = [c.name for c in columns]
    return pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=LOADER_PANDAS_TYPES.get)


def validate_frame(
    data: pd.DataFrame | pa.Table,
    spec: TableSpec | str,
    *,
    findings: list[Finding] | None = None,
    plausibility: Plausibility | None = None,
) -> pd.DataFrame:
    """Check one table against the contract and return it with contract dtypes.

    Unknown extra columns are dropped; optional columns may be absent. Raises
    :class:`DataContractError` on the first problem found: a type, a null, a value outside its
    set or range, a duplicate key, or a plausibility rule whose breach breaks the contract (see
    :func:`_check_rules` and README "Data checks"). The rules whose breach a scheme may
    legitimately have are only counted, into ``findings`` when given (skipped otherwise: the
    online route and the batch reader do not pay for them).
    """
    spec = TABLES[spec] if isinstance(spec, str) else spec
    rules = plausibility or Plausibility.from_env()
    try:
        return _validate_frame(data, spec, findings, rules)
    except (pa.ArrowException, UnicodeError, OverflowError) as exc:
        # a damaged file that Arrow decoded into values no check expects: still one line
        raise unreadable(spec.name, exc) from exc


def _validate_frame(
    data: pd.DataFrame | pa.Table,
    spec: TableSpec,
    findings: list[Finding] | None,
    rules: Plausibility,
) -> pd.DataFrame:
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    present: list[ColumnSpec] = []
    for col in spec.columns:
        if col.name not in table.column_names:
            if col.optional:
                continue
            raise DataContractError(spec.name, col.name, "required column is missing")
        present.append(col)
        if col.kind == "str":
            _check_utf8(table.column(col.name), col, spec.name)
    df = _coerce_plain(table, present)
    if df is None:
        df = pd.DataFrame(
            {c.name: coerce_column(table.column(c.name), c, spec.name) for c in present}
        )
    for col in spec.columns:
        if col.name in df.columns:
            _check_values(df, col, spec, rules)
    check_key(df, spec)
    _check_rules(df, spec, findings)
    return df


@functools.cache
def _allowed_values(allowed: tuple[str, ...]) -> pd.Series:
    """A contract column's allowed set as a ``str`` Series (built once per set)."""
    return pd.Series(list(allowed), dtype="str")


#: What an id may not hold: nothing at all, whitespace or a separator (U+3000, no-break space)
#: at either end, control characters (``Cc``) or invisible formatting characters (``Cf``: the
#: bidirectional embeddings and overrides U+202A-U+202E and isolates U+2066-U+2069, the marks
#: U+200E, U+200F and U+061C, zero-width spaces and joiners, the byte-order mark). RE2 syntax,
#: matched by Arrow in one vectorised pass.
_BAD_ID = r"^$|^[\s\p{Z}]|[\s\p{Z}]$|[\p{Cc}\p{Cf}]"


def _bad_ids(ids: pa.Array) -> np.ndarray:
    """Which ``ids`` break :data:`_BAD_ID`. All-ASCII ids (the usual case) take three cheap
    kernels, about a quarter of the regex's time on a million ids: printable (no control
    character), not empty, unchanged by trimming whitespace; others the regex."""
    if pc.all(pc.string_is_ascii(ids)).as_py() is not False:
        length = pc.binary_length(ids)
        bad = pc.or_(
            pc.invert(pc.ascii_is_printable(ids)),
            pc.or_(
                pc.equal(length, 0),
                pc.not_equal(pc.binary_length(pc.ascii_trim_whitespace(ids)), length),
            ),
        )
    else:
        bad = pc.match_substring_regex(ids, _BAD_ID)
    return np.asarray(bad.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _duration(delta: pd.Timedelta) -> str:
    """A tolerance as ``RISKML_FUTURE_TOLERANCE`` takes it: ``1D``, ``36h``, ``90s``."""
    seconds = delta.total_seconds()
    if seconds % 86_400 == 0:
        return f"{int(seconds // 86_400)}D"
    if seconds % 3_600 == 0:
        return f"{int(seconds // 3_600)}h"
    return f"{seconds:g}s"


def _share(n: int, rows: int, what: str) -> str:
    return f"{n:,d} of {rows:,d} {what}"


def _check_values(df: pd.DataFrame, col: ColumnSpec, spec: TableSpec, rules: Plausibility) -> None:
    """Nulls, allowed set, pattern and numeric range of one column.

    Each check is one vectorised step on NumPy or Arrow (no filtered copy of the column when it
    has no nulls): the frames of an online request are a few rows, where every pandas call costs
    tens of microseconds whatever the size (this took about 3 ms of a one-claim request).
    """
    ser = df[col.name]
    null = ser.isna().to_numpy()
    has_null = bool(null.any())
    if not col.nullable and has_null:
        raise DataContractError(
            spec.name,
            col.name,
            "null in a column that may not be null",
            _example(df, null, spec, col.name),
        )
    present = ser[~null] if has_null else ser

    def example(bad: np.ndarray) -> str:  # only on failure: from the rows of ``present``
        return _example(df.loc[~null] if has_null else df, bad, spec, col.name)

    if col.allowed is not None:
        if present.dtype == STR_DTYPE:  # an Arrow hash lookup, as Series.isin answers for strings
            bad = ~isin(present, _allowed_values(col.allowed))
        else:
            bad = ~present.isin(col.allowed).to_numpy()
        if bad.any():
            raise DataContractError(
                spec.name,
                col.name,
                f"value outside the allowed set {sorted(col.allowed)}",
                example(bad),
            )
    if col.identifier and len(present):
        bad = _bad_ids(pa.array(present, from_pandas=True))
        if bad.any():
            raise DataContractError(
                spec.name,
                col.name,
                _share(int(bad.sum()), len(present), "ids")
                + " are empty or carry surrounding whitespace, control characters or "
                "bidirectional/invisible formatting characters (e.g. U+202E)",
                example(bad),
            )
    if col.pattern is not None:
        bad = ~present.astype(str).str.fullmatch(col.pattern).to_numpy(dtype=bool)
        if bad.any():
            raise DataContractError(
                spec.name,
                col.name,
                f"value does not match {col.pattern}",
                example(bad),
            )
    if col.region:
        bad = ~isin(present, region_codes())
        if bad.any():
            raise DataContractError(
                spec.name,
                col.name,
                _share(int(bad.sum()), len(present), "values")
                + " are not GB/T 2260 administrative division codes (any edition since 1980)",
                example(bad),
            )
    if col.not_future and rules.check_future and len(present):
        latest = rules.latest()
        values = present.to_numpy(dtype="datetime64[ns]")
        if values.max() > latest.to_datetime64():
            bad = values > latest.to_datetime64()
            raise DataContractError(
                spec.name,
                col.name,
                _share(int(bad.sum()), len(present), "values")
                + f" lie in the future (after {latest:%Y-%m-%d %H:%M}, now in Asia/Shanghai plus"
                f" RISKML_FUTURE_TOLERANCE={_duration(rules.future_tolerance)})",
                example(bad),
            )
    if col.kind in ("float", "int"):
        num = present.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(num)
        if col.kind == "float" and not finite.all():
            raise DataContractError(spec.name, col.name, "value is not finite", example(~finite))
        if col.min_value is not None:
            bad = num <= col.min_value if col.exclusive_min else num < col.min_value
            if bad.any():
                op = ">" if col.exclusive_min else ">="
                raise DataContractError(
                    spec.name,
                    col.name,
                    f"value must be {op} {col.min_value}",
                    example(bad),
                )
        if col.max_value is not None:
            bad = num > col.max_value
            if bad.any():
                raise DataContractError(
                    spec.name,
                    col.name,
                    f"value must be <= {col.max_value}",
                    example(bad),
                )


def check_key(df: pd.DataFrame, spec: TableSpec) -> None:
    """Refuse two rows of ``df`` with the same key of ``spec`` (the columns of it present)."""
    if len(df) < 2:  # one row has no duplicate
        return
    key = [k for k in spec.key if k in df.columns]
    dup = df.duplicated(subset=key, keep=False)
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise DataContractError(
            spec.name, ",".join(key), "duplicate key", _describe(row, spec, None, key)
        )


def _check_rules(df: pd.DataFrame, spec: TableSpec, findings: list[Finding] | None = None) -> None:
    """The rules of a table across its columns: errors raise, warnings go to ``findings``."""
    if "month_is_first_day" in spec.checks:
        bad = df["month"].dt.day != 1
        if bad.any():
            raise DataContractError(
                spec.name,
                "month",
                "month must be the first day of a month",
                _example(df, bad, spec, "month"),
            )
    if "service_end_not_before_start" in spec.checks:
        bad = df["service_end"] < df["service_start"]
        if bad.any():
            raise DataContractError(
                spec.name,
                "service_end",
                "service_end is before service_start",
                _example(df, bad, spec, "service_end"),
            )
    if "death_not_before_birth" in spec.checks:
        bad = (df["death_date"] < df["birth_date"]).to_numpy()  # NaT compares False
        if bad.any():
            raise DataContractError(
                spec.name,
                "death_date",
                _share(int(bad.sum()), len(df), "persons") + " died before they were born "
                "(death_date before birth_date)",
                _example(df, bad, spec, "death_date"),
            )
    if "person_dates_in_order" in spec.checks and findings is not None and len(df):
        for column, before, rule, problem in (
            (
                "enrolled_on",
                "birth_date",
                "enrolled_before_birth",
                "persons enrolled before they were born (enrolled_on before birth_date: a "
                "placeholder date?)",
            ),
            (
                "death_reported_on",
                "death_date",
                "death_reported_before_death",
                "persons whose death was reported before it happened (death_reported_on before "
                "death_date)",
            ),
        ):
            bad = (df[column] < df[before]).to_numpy()
            if bad.any():
                findings.append(
                    Finding(
                        spec.name,
                        column,
                        rule,
                        problem,
                        int(bad.sum()),
                        len(df),
                        _example(df, bad, spec, column),
                    )
                )
    if "service_after_submission" in spec.checks:
        _check_service_dates(df, spec, findings)
    if "claim_shape" in spec.checks and findings is not None and len(df):
        _check_claim_shape(df, spec, findings)
    if "amount_is_quantity_times_price" in spec.checks and findings is not None and len(df):
        expected = df["quantity"].to_numpy() * df["unit_price"].to_numpy()
        off = np.abs(df["amount"].to_numpy() - expected) > _rounding(expected, 1)
        if off.any():
            findings.append(
                Finding(
                    spec.name,
                    "amount",
                    "amount_is_quantity_times_price",
                    "line items whose amount differs from quantity x unit_price by more than "
                    f"rounding ({ROUNDING_CNY:.2f} CNY; a scheme's discounts or caps may explain "
                    "it)",
                    int(off.sum()),
                    len(df),
                    _example(df, off, spec, "amount"),
                )
            )


def _rounding(expected: np.ndarray, lines: np.ndarray | int) -> np.ndarray:
    """What rounding explains between an amount and its computation: 0.01 CNY per line plus
    float error."""
    return np.asarray(ROUNDING_CNY * np.asarray(lines) + 1e-9 * np.abs(expected) + 1e-9)


def _check_claim_shape(df: pd.DataFrame, spec: TableSpec, findings: list[Finding]) -> None:
    """Claims a scheme may have but that usually mean a conversion went wrong, counted: a
    medical claim without a provider (CONTRACT.md: null for cash benefits), a service period
    longer than :data:`LONG_SERVICE_DAYS`."""
    rows = len(df)
    medical = isin(df["benefit_type"], pd.Series(MEDICAL_BENEFITS, dtype="str"))
    no_provider = medical & df["provider_id"].isna().to_numpy()
    if no_provider.any():
        findings.append(
            Finding(
                spec.name,
                "provider_id",
                "medical_claim_without_provider",
                "medical claims (outpatient, inpatient, pharmacy) without a provider_id",
                int(no_provider.sum()),
                rows,
                _example(df, no_provider, spec, "benefit_type"),
            )
        )
    length = (df["service_end"] - df["service_start"]).to_numpy()
    long = length > np.timedelta64(LONG_SERVICE_DAYS, "D")
    if long.any():
        findings.append(
            Finding(
                spec.name,
                "service_end",
                "long_service_period",
                f"claims whose service period is longer than {LONG_SERVICE_DAYS} days",
                int(long.sum()),
                rows,
                _example(df, long, spec, "service_end"),
            )
        )


def _check_service_dates(df: pd.DataFrame, spec: TableSpec, findings: list[Finding] | None) -> None:
    """A claim reaches the administration after its service starts (a cash benefit's month may
    be claimed up to :data:`CASH_ADVANCE_DAYS` ahead): otherwise the record is broken (an error,
    e.g. ``submitted_at`` years before the service). A medical service that ends after the day
    of submission (interim billing of a long stay) and a claim submitted more than
    :data:`LATE_SUBMISSION_DAYS` after its service are warnings: schemes differ."""
    if not len(df):
        return
    day = df["submitted_at"].dt.normalize().to_numpy()
    start = df["service_start"].to_numpy()
    end = df["service_end"].to_numpy()
    cash = isin(df["benefit_type"], pd.Series(CASH_BENEFITS, dtype="str"))
    ahead = np.where(cash, np.timedelta64(CASH_ADVANCE_DAYS, "D"), np.timedelta64(0, "D"))
    bad = start > day + ahead
    if bad.any():
        raise DataContractError(
            spec.name,
            "service_start",
            _share(int(bad.sum()), len(df), "claims")
            + " start after the day they were submitted (submitted_at); a cash benefit's month "
            f"may be claimed at most {CASH_ADVANCE_DAYS} days ahead",
            _example(df, bad, spec, "service_start"),
        )
    if findings is None:
        return
    rows = len(df)
    late = day - end > np.timedelta64(LATE_SUBMISSION_DAYS, "D")
    if late.any():
        findings.append(
            Finding(
                spec.name,
                "submitted_at",
                "late_submission",
                f"claims submitted more than {LATE_SUBMISSION_DAYS} days after their service ended",
                int(late.sum()),
                rows,
                _example(df, late, spec, "submitted_at"),
            )
        )
    open_stay = ~cash & (end > day)
    if open_stay.any():
        findings.append(
            Finding(
                spec.name,
                "service_end",
                "service_end_after_submission",
                "non-cash claims whose service ends after the day they were submitted (interim "
                "billing of a long stay?)",
                int(open_stay.sum()),
                rows,
                _example(df, open_stay, spec, "service_end"),
            )
        )


def check_consistency(tables: dict[str, pd.DataFrame], findings: list[Finding]) -> None:
    """Rules across tables that a scheme may legitimately break, counted into ``findings``:
    line items that do not add up to their claim's ``amount_claimed`` (a claim may be the
    reimbursed part of the billed items, or carry lines not itemised); a service that started
    before its claimant was born (a newborn's care claimed under a parent)."""
    _check_service_after_birth(tables, findings)
    items, claims = tables.get("claim_items"), tables.get("claims")
    if items is None or claims is None or not len(items) or not len(claims):
        return
    sums = items.groupby("claim_id", sort=False, observed=True)["amount"].agg(["sum", "size"])
    pos = pd.Index(claims["claim_id"]).get_indexer(sums.index)
    has = pos >= 0
    claimed = claims["amount_claimed"].to_numpy()[pos[has]]
    total = sums["sum"].to_numpy()[has]
    off = np.abs(total - claimed) > _rounding(claimed, sums["size"].to_numpy()[has])
    if off.any():
        above = int((total[off] > claimed[off]).sum())
        first = int(np.flatnonzero(off)[0])
        findings.append(
            Finding(
                "claim_items",
                "amount",
                "items_add_up_to_claim",
                "claims with items whose amounts do not add up to amount_claimed "
                f"({above:,d} itemise more than is claimed, {int(off.sum()) - above:,d} less)",
                int(off.sum()),
                int(has.sum()),
                f"claim_id={sums.index[has][first]}: items {total[first]:,.2f}, "
                f"claimed {claimed[first]:,.2f}",
            )
        )


def _check_service_after_birth(tables: dict[str, pd.DataFrame], findings: list[Finding]) -> None:
    claims, persons = tables.get("claims"), tables.get("persons")
    if claims is None or persons is None or not len(claims) or not len(persons):
        return
    pos = pd.Index(persons["person_id"]).get_indexer(claims["person_id"])
    known = pos >= 0
    birth = np.full(len(claims), np.datetime64("NaT"), dtype="datetime64[ns]")
    birth[known] = persons["birth_date"].to_numpy(dtype="datetime64[ns]")[pos[known]]
    bad = claims["service_start"].to_numpy(dtype="datetime64[ns]") < birth  # NaT: False
    if bad.any():
        findings.append(
            Finding(
                "claims",
                "service_start",
                "service_before_birth",
                "claims whose service started before the claimant's birth_date (a newborn's "
                "care claimed under a parent?)",
                int(bad.sum()),
                len(claims),
                _example(claims, bad, TABLES["claims"], "service_start"),
            )
        )


def check_references(tables: dict[str, pd.DataFrame]) -> None:
    """Every reference (claim to person, item to claim, ...) must point to an existing row."""
    for name, frame in tables.items():
        spec = TABLES[name]
        for col in spec.columns:
            if col.references is None or col.name not in frame.columns:
                continue
            ref_table, ref_col = col.references
            if ref_table not in tables:
                continue
            values = frame[col.name]
            bad = np.asarray(values.notna()) & ~isin(values, tables[ref_table][ref_col])
            if bad.any():
                raise DataContractError(
                    name,
                    col.name,
                    f"refers to an unknown {ref_table}.{ref_col}",
                    _example(frame, bad, spec, col.name),
                )


def plausibility_for(directory: Path | Location) -> Plausibility:
    """The plausibility rules of a data directory: :meth:`Plausibility.from_env`, except that a
    directory written by ``riskml synth`` (its ``manifest.json`` says ``generator:
    riskml.synth``) is dated on a calendar of its own (it starts in 2024 and runs ``--months``,
    its labels are decided weeks after that): its dates are not compared with today's."""
    manifest = (
        directory.child("manifest.json")
        if isinstance(directory, Location)
        else directory / "manifest.json"
    )
    synthetic = False
    if manifest.is_file():
        try:
            synthetic = json.loads(manifest.read_text()).get("generator") == "riskml.synth"
        except (ValueError, AttributeError, OSError, pa.ArrowException):
            synthetic = False  # not a manifest riskml wrote: the rules as for any data
    return Plausibility.from_env(check_future=not synthetic)


def load_data_dir(
    path: Path | str | Location,
    *,
    require_labels: bool = False,
    tables: Iterable[str] | None = None,
    findings: list[Finding] | None = None,
) -> ClaimsData:
    """Read and validate a data directory; raise :class:`DataContractError` on any problem.

    The optional tables (``employers``, ``contributions``, ``claim_items``, ``labels``) may be
    absent: they are then empty, and a reference to one (a claim's ``employer_id`` without an
    ``employers`` table) is an error. The warnings of the plausibility rules are appended to
    ``findings`` when given, and logged with their counts either way.
    """
    directory = path if isinstance(path, Location) else Path(path)
    if not directory.is_dir():
        raise DataContractError("data", None, f"data directory {str(directory)!r} does not exist")
    wanted = set(tables) if tables is not None else set(TABLES)
    collected: list[Finding] = []
    rules = plausibility_for(directory)
    frames: dict[str, pd.DataFrame] = {}
    absent: dict[str, pd.DataFrame] = {}
    for name, spec in TABLES.items():
        if name not in wanted:
            continue
        arrow = _read_arrow(directory, spec)
        if arrow is None:
            if spec.required or (name == "labels" and require_labels):
                raise DataContractError(
                    name,
                    None,
                    f"table is missing: no {name}.parquet or {name}/ in {directory}",
                )
            absent[name] = empty_table(name)
            continue
        frames[name] = validate_frame(arrow, spec, findings=collected, plausibility=rules)
    check_references({**absent, **frames})
    check_consistency(frames, collected)
    for finding in collected:
        log.warning("data check: %s.%s: %s", finding.table, finding.column, _counted(finding))
    if findings is not None:
        findings.extend(collected)
    return ClaimsData(
        persons=frames.get("persons", empty_table("persons")),
        employers=frames.get("employers", empty_table("employers")),
        providers=frames.get("providers", empty_table("providers")),
        contributions=frames.get("contributions", empty_table("contributions")),
        claims=frames.get("claims", empty_table("claims")),
        claim_items=frames.get("claim_items", empty_table("claim_items")),
        labels=frames.get("labels"),
    )


def _counted(finding: Finding) -> str:
    """A finding for the log: its count and problem, without the example (which may hold an id)."""
    return f"{finding.count:,d} of {finding.rows:,d} {finding.problem}"


def _empty_dtype(kind: str) -> str:
    return {
        "str": "str",
        "date": "datetime64[ns]",
        "timestamp": "datetime64[ns]",
        "float": "float64",
        "int": "Int64",
        "bool": "boolean",
    }[kind]


def null_column(kind: str, index: pd.Index) -> pd.Series:
    """An all-null column of contract kind ``kind`` in the loader's dtype, on ``index``."""
    return pd.Series(None, index=index, dtype=_empty_dtype(kind))


def empty_table(table: str) -> pd.DataFrame:
    """A table with no rows and the contract's required columns in their dtypes."""
    return pd.DataFrame(
        {
            c.name: pd.Series(dtype=_empty_dtype(c.kind))
            for c in TABLES[table].columns
            if not c.optional
        }
    )
