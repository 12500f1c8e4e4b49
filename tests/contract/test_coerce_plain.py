"""validate_frame's one-call conversion of plain Arrow columns gives what coerce_column gives."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from riskml.contract import TABLES
from riskml.data import _coerce_plain, coerce_column


def _per_column(table: pa.Table, name: str) -> pd.DataFrame:
    spec = TABLES[name]
    cols = [c for c in spec.columns if c.name in table.column_names]
    return pd.DataFrame({c.name: coerce_column(table.column(c.name), c, name) for c in cols})


def _claims(submitted_type: pa.DataType, id_type: pa.DataType) -> pa.Table:
    ts = [dt.datetime(2025, 3, 1, 8, 30, 15, 123456), dt.datetime(2025, 3, 2, 23, 59, 59)]
    return pa.table(
        {
            "claim_id": pa.array(["C1", "C2"], id_type),
            "person_id": pa.array(["P1", "P2"], id_type),
            "benefit_type": pa.array(["outpatient", "inpatient"], id_type),
            "provider_id": pa.array([None, "H1"], id_type),
            "employer_id": pa.nulls(2),  # a column the client left empty
            "region_code": pa.array(["110101", "310101"], id_type),
            "submitted_at": pa.array(ts, pa.timestamp("us")).cast(submitted_type),
            "service_start": pa.array([dt.date(2025, 2, 1), None], pa.date32()),
            "service_end": pa.array([dt.date(2025, 2, 3), dt.date(2025, 2, 4)], pa.date32()),
            "diagnosis_code": pa.array(["J18.9", None], id_type),
            "amount_claimed": pa.array([120.5, None], pa.float64()),
            "channel": pa.array(["counter", "online"], id_type),
        }
    )


@pytest.mark.parametrize("submitted_type", [pa.timestamp("us"), pa.timestamp("ns")])
@pytest.mark.parametrize("id_type", [pa.string(), pa.large_string()])
def test_plain_columns_convert_as_coerce_column(
    submitted_type: pa.DataType, id_type: pa.DataType
) -> None:
    table = _claims(submitted_type, id_type)
    spec = TABLES["claims"]
    got = _coerce_plain(table, [c for c in spec.columns if c.name in table.column_names])
    assert got is not None
    expected = _per_column(table, "claims")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)


def test_items_with_integers_and_the_cases_left_to_coerce_column() -> None:
    spec = TABLES["claim_items"]
    items = pa.table(
        {
            "claim_id": ["C1", "C1"],
            "line_no": pa.array([1, 2], pa.int64()),
            "item_code": ["A", "B"],
            "item_category": ["drug", "exam"],
            "quantity": [1.0, 2.0],
            "unit_price": [3.0, 4.5],
            "amount": [3.0, 9.0],
        }
    )
    cols = [c for c in spec.columns if c.name in items.column_names]
    got = _coerce_plain(items, cols)
    assert got is not None
    pd.testing.assert_frame_equal(got, _per_column(items, "claim_items"), check_exact=True)
    with_null = items.set_column(1, "line_no", pa.array([1, None], pa.int64()))
    assert _coerce_plain(with_null, cols) is None  # via float64 in coerce_column
    as_double = items.set_column(1, "line_no", pa.array([1.0, 2.0]))
    assert _coerce_plain(as_double, cols) is None  # fractions are checked there
    claims = _claims(pa.timestamp("us"), pa.string())
    stamped = claims.set_column(7, "service_start", pa.array([dt.datetime(2025, 2, 1, 12)] * 2))
    claim_cols = [c for c in TABLES["claims"].columns if c.name in claims.column_names]
    assert _coerce_plain(stamped, claim_cols) is None  # the midnight check is there
