"""The loader refuses every kind of bad data directory, naming table, column and value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskml.contract import TABLES
from riskml.data import ClaimsData, load_data_dir, validate_frame
from riskml.errors import DataContractError


def tiny_data() -> ClaimsData:
    """Two persons, one employer, one hospital, three claims, a few items and labels."""
    d = pd.to_datetime
    return ClaimsData(
        persons=pd.DataFrame(
            {
                "person_id": ["P1", "P2"],
                "birth_date": d(["1950-03-01", "1988-07-15"]),
                "sex": ["F", "M"],
                "region_code": ["110105", "310115"],
                "hukou_type": ["urban", "rural"],
                "enrolled_on": d(["1990-01-01", "2010-05-01"]),
                "death_date": d([None, None]),
                "death_reported_on": d([None, None]),
            }
        ),
        employers=pd.DataFrame(
            {
                "employer_id": ["E1"],
                "region_code": ["310115"],
                "industry": ["C"],
                "size_band": ["small"],
                "registered_on": d(["2005-01-01"]),
            }
        ),
        providers=pd.DataFrame(
            {
                "provider_id": ["H1"],
                "provider_type": ["hospital"],
                "tier": pd.array([2], dtype="Int64"),
                "ownership": ["public"],
                "region_code": ["110105"],
                "designated_on": d(["2001-01-01"]),
                "beds": pd.array([300], dtype="Int64"),
            }
        ),
        contributions=pd.DataFrame(
            {
                "person_id": ["P2", "P2"],
                "employer_id": ["E1", None],
                "month": d(["2024-01-01", "2024-02-01"]),
                "contribution_base": [6500.0, 4000.0],
            }
        ),
        claims=pd.DataFrame(
            {
                "claim_id": ["C1", "C2", "C3"],
                "person_id": ["P1", "P1", "P2"],
                "benefit_type": ["inpatient", "pension", "outpatient"],
                "provider_id": ["H1", None, "H1"],
                "employer_id": [None, None, None],
                "region_code": ["110105", "110105", "110105"],
                "submitted_at": d(["2024-03-02 10:00", "2024-03-05 09:00", "2024-03-06 12:30"]),
                "service_start": d(["2024-02-20", "2024-03-01", "2024-03-06"]),
                "service_end": d(["2024-03-01", "2024-03-31", "2024-03-06"]),
                "diagnosis_code": ["I63.9", None, "J06.9"],
                "amount_claimed": [12000.0, 3100.0, 210.0],
                "channel": ["provider_direct", "counter", "provider_direct"],
            }
        ),
        claim_items=pd.DataFrame(
            {
                "claim_id": ["C1", "C1", "C3"],
                "line_no": pd.array([1, 2, 1], dtype="Int64"),
                "item_code": ["BED01", "DRG123", "EXM07"],
                "item_category": ["bed", "drug", "exam"],
                "quantity": [10.0, 4.0, 1.0],
                "unit_price": [800.0, 1000.0, 210.0],
                "amount": [8000.0, 4000.0, 210.0],
            }
        ),
        labels=pd.DataFrame(
            {
                "claim_id": ["C1"],
                "is_fraud": [False],
                "typology": [None],
                "decided_at": d(["2024-05-01 00:00"]),
                "source": ["random_audit"],
            }
        ),
    )


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    tiny_data().write(out)
    return out


Loader = Callable[[Path], object]


@pytest.fixture(params=["load_data_dir", "streaming"])
def load(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Loader:
    """Both ways into a data directory refuse the same bad input: the loader, and the streaming
    reader of batch scoring (in batches of 2 rows, so keys and references cross batches)."""
    if request.param == "load_data_dir":
        return load_data_dir
    import riskml.backlog

    monkeypatch.setattr(riskml.backlog, "BATCH_ROWS", 2)
    return riskml.backlog.DataDirReader


def _rewrite(directory: Path, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Replace one table file with an edited copy, written with pandas' own type inference."""
    path = directory / f"{table}.parquet"
    frame = pq.read_table(path).to_pandas()
    edit(frame).to_parquet(path, index=False)


def test_valid_directory_loads_with_contract_dtypes(good_dir: Path) -> None:
    data = load_data_dir(good_dir)
    assert len(data.claims) == 3
    assert data.claims["submitted_at"].dtype == "datetime64[ns]"
    assert data.persons["birth_date"].dtype == "datetime64[ns]"
    assert str(data.providers["tier"].dtype) == "Int64"
    assert data.labels is not None and data.labels["is_fraud"].tolist() == [False]


def test_round_trip_is_lossless(good_dir: Path, tmp_path: Path) -> None:
    first = load_data_dir(good_dir)
    first.write(tmp_path / "again")
    second = load_data_dir(tmp_path / "again")
    for name, frame in first.tables().items():
        pd.testing.assert_frame_equal(frame, second.tables()[name], check_dtype=True)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="does not exist"):
        load_data_dir(tmp_path / "nope")


def test_missing_table(good_dir: Path, load: Loader) -> None:
    (good_dir / "providers.parquet").unlink()
    with pytest.raises(DataContractError, match=r"^providers: table is missing"):
        load(good_dir)


def test_optional_tables_and_columns_may_be_absent(good_dir: Path) -> None:
    (good_dir / "labels.parquet").unlink()
    (good_dir / "claim_items.parquet").unlink()
    _rewrite(good_dir, "providers", lambda f: f.drop(columns=["beds"]))
    data = load_data_dir(good_dir)
    assert data.labels is None
    assert data.claim_items.empty
    assert "beds" not in data.providers.columns
    with pytest.raises(DataContractError, match="labels: table is missing"):
        load_data_dir(good_dir, require_labels=True)


def test_table_as_folder_of_parts(good_dir: Path) -> None:
    claims = pq.read_table(good_dir / "claims.parquet")
    (good_dir / "claims.parquet").unlink()
    (good_dir / "claims").mkdir()
    pq.write_table(claims.slice(0, 2), good_dir / "claims" / "part-0.parquet")
    pq.write_table(claims.slice(2), good_dir / "claims" / "part-1.parquet")
    assert len(load_data_dir(good_dir).claims) == 3


def test_missing_column_names_table_and_column(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claims", lambda f: f.drop(columns=["amount_claimed"]))
    with pytest.raises(DataContractError, match=r"^claims\.amount_claimed: required column"):
        load(good_dir)


def test_unknown_extra_columns_are_ignored(good_dir: Path) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(note="x"))
    assert "note" not in load_data_dir(good_dir).claims.columns


def test_wrong_type(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(amount_claimed=f["amount_claimed"].astype(str)))
    with pytest.raises(DataContractError, match=r"claims\.amount_claimed: expected float"):
        load(good_dir)


def test_value_outside_allowed_set_names_the_value(good_dir: Path) -> None:
    _rewrite(
        good_dir, "claims", lambda f: f.assign(benefit_type=["inpatient", "dental", "pension"])
    )
    with pytest.raises(
        DataContractError, match=r"claims\.benefit_type: .*allowed.*'dental at claim_id=C2'"
    ):
        load_data_dir(good_dir)


def test_bad_region_code(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "persons", lambda f: f.assign(region_code=["11010", "310115"]))
    with pytest.raises(DataContractError, match=r"persons\.region_code: .*'11010 at row 1'") as e:
        load(good_dir)
    assert "P1" not in str(e.value)  # a person id is personal data: the row stands for it


def test_duplicate_id(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(claim_id=["C1", "C1", "C3"]))
    with pytest.raises(DataContractError, match=r"claims\.claim_id: duplicate key .*claim_id=C1"):
        load(good_dir)


def test_duplicate_composite_key(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claim_items", lambda f: f.assign(line_no=[1, 1, 1]))
    with pytest.raises(DataContractError, match=r"claim_items\.claim_id,line_no: duplicate key"):
        load(good_dir)


def test_streaming_key_check_tells_collisions_from_duplicates(
    good_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streaming reader compares keys by hash first: with every hash equal, distinct keys
    still pass and a real duplicate is still named."""
    import riskml.backlog

    monkeypatch.setattr(
        riskml.backlog, "_key_hash", lambda frame, spec: np.zeros(len(frame), dtype=np.uint64)
    )
    riskml.backlog.DataDirReader(good_dir)
    _rewrite(good_dir, "claims", lambda f: f.assign(claim_id=["C1", "C3", "C3"]))
    with pytest.raises(DataContractError, match=r"claims\.claim_id: duplicate key .*claim_id=C3"):
        riskml.backlog.DataDirReader(good_dir)


def test_dangling_claim_to_person(good_dir: Path) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(person_id=["P1", "P9", "P2"]))
    with pytest.raises(
        DataContractError,
        match=r"claims\.person_id: refers to an unknown persons\.person_id "
        r"\(e\.g\. 'a person id \(withheld\) at claim_id=C2, row 2'\)$",
    ) as e:
        load_data_dir(good_dir)
    assert "P9" not in str(e.value)


def test_dangling_item_to_claim(good_dir: Path) -> None:
    _rewrite(good_dir, "claim_items", lambda f: f.assign(claim_id=["C1", "C1", "C77"]))
    with pytest.raises(
        DataContractError, match=r"claim_items\.claim_id: refers to an unknown .*C77"
    ):
        load_data_dir(good_dir)


def test_null_in_required_column(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(channel=["counter", None, "online"]))
    with pytest.raises(DataContractError, match=r"claims\.channel: null .*claim_id=C2"):
        load(good_dir)


def test_negative_amount(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claims", lambda f: f.assign(amount_claimed=[1.0, -5.0, 2.0]))
    with pytest.raises(DataContractError, match=r"claims\.amount_claimed: value must be >= 0"):
        load(good_dir)


def test_non_positive_quantity(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "claim_items", lambda f: f.assign(quantity=[1.0, 0.0, 1.0]))
    with pytest.raises(DataContractError, match=r"claim_items\.quantity: value must be > 0"):
        load(good_dir)


def test_service_end_before_start(good_dir: Path, load: Loader) -> None:
    _rewrite(
        good_dir,
        "claims",
        lambda f: f.assign(service_end=pd.to_datetime(["2024-01-01", "2024-03-31", "2024-03-06"])),
    )
    with pytest.raises(DataContractError, match=r"claims\.service_end: .*before service_start"):
        load(good_dir)


def test_contribution_month_not_first_day(good_dir: Path, load: Loader) -> None:
    _rewrite(
        good_dir,
        "contributions",
        lambda f: f.assign(month=pd.to_datetime(["2024-01-01", "2024-02-15"])),
    )
    with pytest.raises(DataContractError, match=r"contributions\.month: .*first day"):
        load(good_dir)


def test_lenient_types_are_accepted(good_dir: Path) -> None:
    """A date stored as a midnight timestamp and an int stored as whole floats are unambiguous."""
    _rewrite(
        good_dir,
        "providers",
        lambda f: f.assign(tier=[2.0], designated_on=pd.to_datetime(["2001-01-01 00:00"])),
    )
    data = load_data_dir(good_dir)
    assert data.providers["tier"].tolist() == [2]


def test_date_with_time_of_day_is_refused(good_dir: Path, load: Loader) -> None:
    _rewrite(
        good_dir,
        "providers",
        lambda f: f.assign(designated_on=pd.to_datetime(["2001-01-01 13:00"])),
    )
    with pytest.raises(DataContractError, match=r"providers\.designated_on: .*not at midnight"):
        load(good_dir)


def test_fractional_int_is_refused(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "providers", lambda f: f.assign(tier=[2.5]))
    with pytest.raises(DataContractError, match=r"providers\.tier: integer column holds fractions"):
        load(good_dir)


def test_tier_out_of_range(good_dir: Path, load: Loader) -> None:
    _rewrite(good_dir, "providers", lambda f: f.assign(tier=[4]))
    with pytest.raises(DataContractError, match=r"providers\.tier: value must be <= 3"):
        load(good_dir)


def test_unreadable_parquet(good_dir: Path, load: Loader) -> None:
    (good_dir / "claims.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataContractError, match=r"^claims: cannot read Parquet"):
        load(good_dir)


def test_validate_frame_on_in_memory_claims() -> None:
    claims = tiny_data().claims.assign(channel=["counter", "fax", "online"])
    with pytest.raises(DataContractError, match=r"claims\.channel: .*'fax at claim_id=C2'"):
        validate_frame(claims, "claims")


def test_timezone_aware_timestamps_become_shanghai_local() -> None:
    claims = tiny_data().claims
    aware = pa.Table.from_pandas(
        claims.assign(submitted_at=claims["submitted_at"].dt.tz_localize("UTC")),
        preserve_index=False,
    )
    out = validate_frame(aware, "claims")
    assert out["submitted_at"].iloc[0] == pd.Timestamp("2024-03-02 18:00")


def test_every_contract_table_has_a_key_of_its_own_columns() -> None:
    for spec in TABLES.values():
        assert set(spec.key) <= set(spec.column_names)


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    bad = tiny_data()
    bad.claims = bad.claims.assign(amount_claimed=["a", "b", "c"])
    out = tmp_path / "out"
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError)):
        bad.write(out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_cli_validate_reports_the_problem(good_dir: Path) -> None:
    from typer.testing import CliRunner

    from riskml.cli import app

    ok = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert ok.exit_code == 0, ok.output
    assert "ok: the data directory meets the contract" in ok.output
    _rewrite(
        good_dir, "claims", lambda f: f.assign(benefit_type=["inpatient", "dental", "pension"])
    )
    bad = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert bad.exit_code == 2
    assert "claims.benefit_type" in bad.output
