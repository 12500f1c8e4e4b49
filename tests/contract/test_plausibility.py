"""Plausibility at the door: what the contract refuses (errors) and what it only counts (warnings).

Errors name table, column and the offending value; warnings are counted into ``findings`` and
printed by ``riskml validate``, which still exits 0. The same rules hold for the loader and for
:func:`validate_frame`, which the online route uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from riskml.contract import Plausibility, region_codes
from riskml.data import Finding, load_data_dir, validate_frame
from riskml.errors import ConfigError, DataContractError

from .test_loader import tiny_data


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    tiny_data().write(out)
    return out


def _rewrite(directory: Path, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = directory / f"{table}.parquet"
    edit(pq.read_table(path).to_pandas()).to_parquet(path, index=False)


def _claims(**columns: object) -> pd.DataFrame:
    return tiny_data().claims.assign(**columns)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["2199-01-01 10:00", "2030-06-01 00:00"],
)
def test_submitted_in_the_future_is_refused(bad: str) -> None:
    sub = pd.to_datetime(["2024-03-02 10:00", bad, "2024-03-06 12:30"])
    with pytest.raises(
        DataContractError, match=r"^claims\.submitted_at: 1 of 3 values lie in the "
    ):
        validate_frame(_claims(submitted_at=sub), "claims")


def test_future_tolerance_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    soon = _now() + pd.Timedelta(hours=6)
    later = _now() + pd.Timedelta(days=3)
    claims = _claims(
        submitted_at=pd.to_datetime(["2024-03-02 10:00", "2024-03-05 09:00", "2024-03-06 12:30"])
    )
    claims.loc[2, "submitted_at"] = soon
    claims.loc[2, "service_start"] = soon.normalize()
    claims.loc[2, "service_end"] = soon.normalize()
    validate_frame(claims, "claims")  # within the default day
    claims.loc[2, "submitted_at"] = later
    with pytest.raises(DataContractError, match=r"claims\.submitted_at: .*future.*C3"):
        validate_frame(claims, "claims")
    monkeypatch.setenv("RISKML_FUTURE_TOLERANCE", "4D")
    validate_frame(claims, "claims")
    validate_frame(claims, "claims", plausibility=Plausibility(pd.Timedelta(days=4)))
    monkeypatch.setenv("RISKML_FUTURE_TOLERANCE", "soon")
    with pytest.raises(ConfigError, match="RISKML_FUTURE_TOLERANCE"):
        validate_frame(claims, "claims")


def test_future_event_dates_are_refused() -> None:
    persons = tiny_data().persons.assign(
        death_reported_on=pd.to_datetime([None, "2100-01-01"]),
        death_date=pd.to_datetime([None, "2099-12-01"]),
    )
    with pytest.raises(DataContractError, match=r"^persons\.death_date: 1 of 1 values lie .*row 2"):
        validate_frame(persons, "persons")
    labels = tiny_data().labels.assign(decided_at=pd.to_datetime(["2199-01-01"]))
    with pytest.raises(DataContractError, match=r"^labels\.decided_at: .*future"):
        validate_frame(labels, "labels")


def test_service_years_after_submission_is_refused() -> None:
    start = pd.to_datetime(["2027-02-20", "2024-03-01", "2024-03-06"])
    end = pd.to_datetime(["2027-03-01", "2024-03-31", "2024-03-06"])
    with pytest.raises(
        DataContractError,
        match=r"^claims\.service_start: 1 of 3 claims start after the day they were submitted"
        r".*2027-02-20.*C1",
    ):
        validate_frame(_claims(service_start=start, service_end=end), "claims")


def test_cash_benefit_month_may_be_claimed_a_little_ahead() -> None:
    # C2 is a pension: its month may start up to 31 days after submission, not more
    ok = _claims(
        service_start=pd.to_datetime(["2024-02-20", "2024-04-01", "2024-03-06"]),
        service_end=pd.to_datetime(["2024-03-01", "2024-04-30", "2024-03-06"]),
    )
    validate_frame(ok, "claims")
    far = ok.assign(
        service_start=pd.to_datetime(["2024-02-20", "2024-05-01", "2024-03-06"]),
        service_end=pd.to_datetime(["2024-03-01", "2024-05-31", "2024-03-06"]),
    )
    with pytest.raises(DataContractError, match=r"claims\.service_start: 1 of 3 .*C2"):
        validate_frame(far, "claims")
    # a medical claim may not start even one day after its submission day
    medical = ok.assign(service_start=pd.to_datetime(["2024-02-20", "2024-04-01", "2024-03-07"]))
    medical.loc[2, "service_end"] = pd.Timestamp("2024-03-07")
    with pytest.raises(DataContractError, match=r"claims\.service_start: .*C3"):
        validate_frame(medical, "claims")


@pytest.mark.parametrize("code", ["000000", "999999", "110199"])
def test_region_code_that_does_not_exist_is_refused(code: str) -> None:
    claims = _claims(region_code=["110105", code, "110105"])
    with pytest.raises(
        DataContractError, match=rf"^claims\.region_code: 1 of 3 values are not GB/T 2260 .*{code}"
    ):
        validate_frame(claims, "claims")


def test_region_list_holds_current_and_historic_codes() -> None:
    codes = set(region_codes())
    assert len(codes) > 7000
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    # provinces, prefectures and districts; a district of 2021 (Hangzhou Linping) and one
    # abolished since (Beijing Chongwen, merged into Dongcheng in 2010)
    assert {"110000", "440300", "440305", "330113", "110103"} <= codes
    assert "000000" not in codes


@pytest.mark.parametrize(
    ("amount", "problem"),
    [(-1e9, r"value must be >= 0"), (1e12, r"value must be <= 100000000")],
)
def test_item_amount_outside_bounds_is_refused(amount: float, problem: str) -> None:
    items = tiny_data().claim_items.assign(amount=[8000.0, 4000.0, amount])
    with pytest.raises(DataContractError, match=rf"^claim_items\.amount: {problem}.*C3"):
        validate_frame(items, "claim_items")


def test_claimed_amount_above_bound_is_refused() -> None:
    with pytest.raises(DataContractError, match=r"claims\.amount_claimed: value must be <="):
        validate_frame(_claims(amount_claimed=[1.0, 2.0, 5e8]), "claims")


@pytest.mark.parametrize(
    "bad_id",
    [" C2", "C2 ", "   ", "", "C\u202e2", "\u2066C2\u2069", "C2\n", "C\u200b2", "C2\u3000"],
)
def test_ids_with_whitespace_or_bidi_controls_are_refused(bad_id: str) -> None:
    with pytest.raises(DataContractError, match=r"^claims\.claim_id: 1 of 3 ids are empty or") as e:
        validate_frame(_claims(claim_id=["C1", bad_id, "C3"]), "claims")
    assert "\n" not in str(e.value)
    assert "\u202e" not in str(e.value)  # the example is shown escaped, never applied


@pytest.mark.parametrize("table", ["persons", "providers", "claim_items", "labels"])
def test_every_id_column_is_checked(table: str) -> None:
    frame = getattr(tiny_data(), table)
    column = {
        "persons": "person_id",
        "providers": "provider_id",
        "claim_items": "claim_id",
        "labels": "claim_id",
    }[table]
    frame = frame.assign(**{column: frame[column].astype(str) + "\u202d"})
    with pytest.raises(DataContractError, match=rf"^{table}\.{column}: .* ids are empty or"):
        validate_frame(frame, table)


def test_ordinary_ids_pass() -> None:
    validate_frame(_claims(claim_id=["C-1", "医保/2024/000017", "c_3.x"]), "claims")


# --- warnings -----------------------------------------------------------------------------


def test_item_amount_not_quantity_times_price_is_a_warning() -> None:
    items = tiny_data().claim_items.assign(amount=[8000.0, 3600.0, 210.004])
    findings: list[Finding] = []
    validate_frame(items, "claim_items", findings=findings)
    assert [(f.rule, f.count, f.rows) for f in findings] == [
        ("amount_is_quantity_times_price", 1, 3)
    ]
    assert "C1" in str(findings[0])
    validate_frame(items, "claim_items")  # not an error


def test_service_end_after_submission_and_late_submission_are_warnings() -> None:
    claims = _claims(
        submitted_at=pd.to_datetime(["2024-02-25 10:00", "2024-03-05 09:00", "2026-03-06 12:30"])
    )
    findings: list[Finding] = []
    validate_frame(claims, "claims", findings=findings)
    rules = {f.rule: (f.count, f.rows) for f in findings}
    # C1 (inpatient) submitted before its discharge; C3 two years late; C2 is a pension whose
    # benefit month runs past its submission, as pensions do: not counted
    assert rules == {"service_end_after_submission": (1, 3), "late_submission": (1, 3)}


def test_validate_counts_warnings_and_exits_0(good_dir: Path) -> None:
    from riskml.cli import app

    _rewrite(
        good_dir, "claim_items", lambda f: f.assign(amount=[8000.0, 3900.0, 200.0])
    )  # C1: 11,900 itemised for 12,000 claimed; C3: 200 for 210; line 2 and 3 off
    result = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.output
    assert "claim_items.amount: 2 of 3 line items whose amount differs" in result.output
    assert "2 of 2 claims with items whose amounts do not add up" in result.output
    assert "(2 warnings, 0 errors)" in result.output


def test_validate_error_is_one_line_with_count(good_dir: Path) -> None:
    from riskml.cli import app

    _rewrite(good_dir, "claims", lambda f: f.assign(region_code=["000000", "000000", "110105"]))
    result = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: claims.region_code: 2 of 3 values are not GB/T 2260 administrative division "
        "codes (any edition since 1980) (e.g. '000000 at claim_id=C1')"
    ]


def test_consistent_data_has_no_findings(good_dir: Path) -> None:
    findings: list[Finding] = []
    load_data_dir(good_dir, findings=findings)
    assert findings == []


# --- real data gets through ---------------------------------------------------------------


def test_zero_row_tables_of_any_parquet_type(good_dir: Path) -> None:
    """pandas writes the columns of an empty frame as double (or object): accepted, typed."""
    empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in tiny_data().employers.columns})
    empty.to_parquet(good_dir / "employers.parquet", index=False)
    _rewrite(good_dir, "contributions", lambda f: f.iloc[:0].astype("float64"))
    data = load_data_dir(good_dir)
    assert len(data.employers) == 0 and len(data.contributions) == 0
    assert str(data.employers["employer_id"].dtype) == "str"
    assert data.employers["registered_on"].dtype == "datetime64[ns]"


def test_all_null_nullable_column_of_another_type(good_dir: Path) -> None:
    _rewrite(
        good_dir, "claims", lambda f: f.assign(diagnosis_code=np.array([np.nan] * 3, dtype=float))
    )
    assert load_data_dir(good_dir).claims["diagnosis_code"].isna().all()
    _rewrite(good_dir, "claims", lambda f: f.assign(channel=np.array([np.nan] * 3, dtype=float)))
    with pytest.raises(DataContractError, match=r"claims\.channel: null in a column"):
        load_data_dir(good_dir)


def test_employers_and_contributions_are_optional(good_dir: Path) -> None:
    (good_dir / "employers.parquet").unlink()
    (good_dir / "contributions.parquet").unlink()
    data = load_data_dir(good_dir)
    assert data.employers.empty and data.contributions.empty
    # a claim that names an employer still needs the employers table
    _rewrite(good_dir, "claims", lambda f: f.assign(employer_id=["E1", None, None]))
    with pytest.raises(DataContractError, match=r"claims\.employer_id: refers to an unknown"):
        load_data_dir(good_dir)


def test_streaming_reader_takes_the_same_optional_tables(good_dir: Path) -> None:
    from riskml.backlog import DataDirReader

    (good_dir / "employers.parquet").unlink()
    (good_dir / "contributions.parquet").unlink()
    reader = DataDirReader(good_dir)
    assert reader.employers.empty
    _rewrite(good_dir, "claims", lambda f: f.assign(region_code=["110105", "000000", "110105"]))
    with pytest.raises(DataContractError, match=r"claims\.region_code"):
        DataDirReader(good_dir)


def test_synthetic_data_is_dated_on_its_own_calendar(tmp_path: Path) -> None:
    """``riskml synth`` starts its calendar in 2024 and runs --months: a long synthetic history
    may end after today. Its manifest says so, and its dates are not compared with today's;
    the same claims without that manifest are refused."""
    from riskml.backlog import DataDirReader
    from riskml.synth import run_synth

    out = tmp_path / "synth"
    months = 12 * (_now().year - 2024) + _now().month + 6  # ends about six months from now
    run_synth(out=out, persons=200, seed=4, fraud_rate=None, preset="low", months=months)
    data = load_data_dir(out)
    assert data.claims["submitted_at"].max() > _now() + pd.Timedelta(days=30)
    DataDirReader(out)
    (out / "manifest.json").unlink()
    with pytest.raises(DataContractError, match=r"lie in the future"):
        load_data_dir(out)
    with pytest.raises(DataContractError, match=r"lie in the future"):
        DataDirReader(out)


# --- what real scheme data needs checked, and never a person id in clear ------------------


def test_death_before_birth_is_refused() -> None:
    persons = tiny_data().persons.assign(
        death_date=pd.to_datetime([None, "1980-01-01"]),
        death_reported_on=pd.to_datetime([None, "1980-02-01"]),
    )
    with pytest.raises(
        DataContractError,
        match=r"^persons\.death_date: 1 of 2 persons died before they were born .*'1980-01-01 "
        r"00:00:00 at row 2'",
    ) as e:
        validate_frame(persons, "persons")
    assert "P2" not in str(e.value)


def test_person_and_claim_dates_out_of_order_are_counted(good_dir: Path) -> None:
    """Enrolled before birth (a placeholder date), a death reported before it happened, care
    before the claimant's birth (a newborn under a parent's id), a medical claim without a
    provider and a service period of years: warnings a scheme's data may hold, each named by
    table, column, count and an example that holds no person id."""
    from riskml.cli import app

    d = pd.to_datetime
    _rewrite(
        good_dir,
        "persons",
        lambda f: f.assign(
            enrolled_on=d(["1900-01-01", "2010-05-01"]),
            death_date=d([None, "2024-04-01"]),
            death_reported_on=d([None, "2024-03-20"]),
        ),
    )
    _rewrite(
        good_dir,
        "claims",
        lambda f: f.assign(
            person_id=["P1", "P1", "P2"],
            service_start=d(["2024-02-20", "2021-03-01", "1988-07-01"]),
            provider_id=["H1", None, None],
            submitted_at=d(["2024-03-02 10:00", "2024-03-05 09:00", "1988-07-06 12:30"]),
            service_end=d(["2024-03-01", "2024-03-31", "1988-07-06"]),
        ),
    )
    _rewrite(good_dir, "claim_items", lambda f: f.iloc[:2])
    findings: list[Finding] = []
    load_data_dir(good_dir, findings=findings)
    got = {(f.table, f.column, f.rule): (f.count, f.rows, f.example) for f in findings}
    assert got == {
        ("persons", "enrolled_on", "enrolled_before_birth"): (1, 2, "1900-01-01 00:00:00 at row 1"),
        ("persons", "death_reported_on", "death_reported_before_death"): (
            1,
            2,
            "2024-03-20 00:00:00 at row 2",
        ),
        ("claims", "service_start", "service_before_birth"): (
            1,
            3,
            "1988-07-01 00:00:00 at claim_id=C3",
        ),
        ("claims", "provider_id", "medical_claim_without_provider"): (
            1,
            3,
            "outpatient at claim_id=C3",
        ),
        ("claims", "service_end", "long_service_period"): (
            1,
            3,
            "2024-03-31 00:00:00 at claim_id=C2",
        ),
    }
    result = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert result.exit_code == 0, result.output
    assert "warning: claims.service_start: 1 of 3 claims whose service started before" in (
        result.output
    )
    assert "(5 warnings, 0 errors)" in result.output
    assert "P1" not in result.output and "P2" not in result.output


@pytest.mark.parametrize(
    ("table", "edit", "problem"),
    [
        (
            "contributions",
            lambda f: f.assign(month=pd.to_datetime(["2024-01-15", "2024-02-01"])),
            r"contributions\.month: month must be the first day .*employer_id=E1, row 1",
        ),
        (
            "persons",
            lambda f: f.assign(person_id=["P2", "P2"]),
            r"persons\.person_id: duplicate key \(e\.g\. 'row 1'\)",
        ),
        (
            "claims",
            lambda f: f.assign(person_id=["P1", "P9", "P2"]),
            r"claims\.person_id: refers to an unknown .*withheld\) at claim_id=C2",
        ),
        (
            "persons",
            lambda f: f.assign(person_id=["P1", " P2"]),
            r"persons\.person_id: .*'a person id \(withheld\) at row 2'",
        ),
    ],
)
def test_errors_never_show_a_person_id(
    good_dir: Path, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame], problem: str
) -> None:
    """Person ids are personal data: an error names the row (or the claim) instead, in the
    loader, the streaming reader and `riskml validate` alike."""
    from riskml.backlog import DataDirReader
    from riskml.cli import app

    _rewrite(good_dir, table, edit)
    if table == "persons" and "P9" not in problem:
        _rewrite(good_dir, "claims", lambda f: f.iloc[:0])
        _rewrite(good_dir, "contributions", lambda f: f.iloc[:0])
    for load in (load_data_dir, DataDirReader):
        with pytest.raises(DataContractError, match=problem) as e:
            load(good_dir)
        assert not any(p in str(e.value) for p in ("P1", "P2", "P9")), str(e.value)
    result = CliRunner().invoke(app, ["validate", "--data", str(good_dir)])
    assert result.exit_code == 2 and not any(p in result.output for p in ("P1", "P2", "P9"))
