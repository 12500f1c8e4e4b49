"""Contract frames to driver rows and query results back to frames, in bulk.

Writes bypass SQLAlchemy's per-value type processing (the bulk of ingest time); reads build one
Arrow table per result and convert it to pandas in one call, with the loader's dtypes. The rows
were validated when they entered the store, so reading them back only converts types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from riskml.contract import TABLES, TableSpec
from riskml.data import LOADER_PANDAS_TYPES
from riskml.store.schema import KEY_SUFFIX


def _py_values(ser: pd.Series, kind: str) -> list[Any]:
    """One column as Python objects a DB driver binds (None for nulls, date/datetime/int/...)."""
    null = ser.isna().to_numpy()
    if kind == "date":
        values: list[Any] = list(pd.to_datetime(ser).dt.date)
    elif kind == "timestamp":
        values = list(pd.to_datetime(ser).dt.to_pydatetime())
    elif kind == "int":
        values = ser.astype("Int64").tolist()
    elif kind == "float":
        values = ser.astype("float64").tolist()
    elif kind == "bool":
        values = ser.astype("boolean").tolist()
    else:
        values = ser.astype(object).tolist()
    if null.any():
        values = [None if n else v for v, n in zip(values, null, strict=True)]
    return values


def _sqlite_text(ser: pd.Series, kind: str) -> list[Any]:
    """Dates and timestamps as the text SQLAlchemy's SQLite types store, formatted in bulk.

    SQLite keeps dates as text that must compare correctly as strings, so the format must be
    exactly SQLAlchemy's (``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM:SS.ffffff``).
    """
    values = pd.to_datetime(ser).to_numpy(dtype="datetime64[us]")
    text = np.datetime_as_string(values, unit="D" if kind == "date" else "us")
    if kind == "timestamp":
        text = np.char.replace(text, "T", " ")
    out: list[Any] = text.tolist()
    null = np.isnat(values)
    if null.any():
        out = [None if n else v for v, n in zip(out, null, strict=True)]
    return out


def contract_rows(
    frame: pd.DataFrame, table: str, dialect: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and row tuples of a contract frame, ready for the driver's executemany.

    Bypasses SQLAlchemy's per-value type processing (the bulk of ingest time): SQLite gets
    dates and timestamps pre-formatted as its text, other drivers Python date objects.
    """
    spec = TABLES[table]
    columns: dict[str, list[Any]] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        if dialect == "sqlite" and col.kind in ("date", "timestamp"):
            values = _sqlite_text(frame[col.name], col.kind)
        else:
            values = _py_values(frame[col.name], col.kind)
        columns[col.name] = values
        if col.name in spec.key and col.nullable:
            columns[col.name + KEY_SUFFIX] = ["" if v is None else v for v in values]
    return list(columns), list(zip(*columns.values(), strict=True))


def frame_from_result(result: sa.CursorResult[Any], spec: TableSpec) -> pd.DataFrame:
    """A query result of a contract table as a frame with the loader's dtypes.

    The columns become one Arrow table converted to pandas in one call (a Series per column and
    the DataFrame constructor cost three times as much on the online path).
    """
    names = list(result.keys())
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [
        _arrow_column(values, spec.column(name).kind)
        for name, values in zip(names, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=LOADER_PANDAS_TYPES.get)


_ARROW_READ: dict[str, pa.DataType] = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def _arrow_column(values: Sequence[Any], kind: str) -> pa.Array:
    """One result column (Python values, dates as ISO text) as an Arrow array of its kind
    (dates and timestamps as ``timestamp[ns]``)."""
    if kind in ("date", "timestamp"):
        try:
            return pa.array(values, pa.string()).cast(pa.timestamp("ns"))
        except pa.ArrowInvalid:  # a text form Arrow does not parse: let pandas try
            raw = pd.Series(list(values), dtype=object)
            parsed = pd.to_datetime(raw, format="ISO8601").astype("datetime64[ns]")
            return pa.array(parsed.to_numpy(), pa.timestamp("ns"), from_pandas=True)
    return pa.array(values, _ARROW_READ[kind])
