"""The generator's output meets the contract, is deterministic, calibrated and well labelled."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskml.contract import TYPOLOGIES
from riskml.data import ClaimsData, load_data_dir
from riskml.errors import ConfigError
from riskml.synth import SynthConfig, TypologyKnobs, generate, run_synth, write_result
from riskml.synth.reference import REGION_CODES


def _small(seed: int, **kw: object) -> SynthConfig:
    return SynthConfig(persons=600, seed=seed, months=12, **kw)  # type: ignore[arg-type]


def test_output_passes_the_contract(synth_dir: Path) -> None:
    data = load_data_dir(synth_dir, require_labels=True)
    assert data.labels is not None
    # the optional columns are written too
    assert "beds" in data.providers.columns
    assert "doctor_id" in data.claims.columns
    assert "trace_code" in data.claim_items.columns
    assert "outcome" in data.labels.columns
    for name in ("ground_truth.parquet", "manifest.json"):
        assert (synth_dir / name).is_file()


def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    dirs = []
    for i, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"d{i}"
        write_result(generate(_small(seed)), out)
        dirs.append(out)
    files = sorted(p.name for p in dirs[0].iterdir())
    assert "claims.parquet" in files and "ground_truth.parquet" in files
    for name in files:
        assert (dirs[0] / name).read_bytes() == (dirs[1] / name).read_bytes(), name
    assert (dirs[0] / "claims.parquet").read_bytes() != (dirs[2] / "claims.parquet").read_bytes()


def test_manifest_counts_match_the_files(synth_dir: Path, synth_data: ClaimsData) -> None:
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    for name, frame in synth_data.tables().items():
        assert manifest["rows"][name] == len(frame), name
    assert manifest["rows"]["ground_truth"] == len(truth)
    assert manifest["seed"] == 11
    labels = synth_data.labels
    assert labels is not None
    pos = labels[labels["is_fraud"]]
    for typ in TYPOLOGIES:
        entry = manifest["typologies"][typ]
        assert entry["labelled_positive"] == int((pos["typology"] == typ).sum())
        gt = truth[(truth["typology"] == typ) & (truth["class"] != "error")]
        assert entry["claims"] == len(gt)
        assert entry["units"] == gt["unit_id"].nunique()
    assert manifest["ground_truth"]["by_class"] == {
        k: int(v) for k, v in truth["class"].value_counts().items()
    }


def test_every_benefit_and_realistic_volumes(synth_data: ClaimsData, synth_dir: Path) -> None:
    claims = synth_data.claims
    persons = synth_data.persons
    assert set(claims["benefit_type"]) == {
        "outpatient",
        "inpatient",
        "pharmacy",
        "work_injury",
        "maternity",
        "unemployment",
        "pension",
    }
    per_person = len(claims) / len(persons)
    assert 10 <= per_person <= 16
    assert set(persons["region_code"]) <= set(REGION_CODES)
    assert persons["region_code"].nunique() >= 10
    assert set(persons["hukou_type"]) == {"urban", "rural"}
    age = (pd.Timestamp("2024-01-01") - persons["birth_date"]).dt.days / 365.25
    assert 0.17 <= (age >= 60).mean() <= 0.3
    # deaths reported with a lag, some not (yet) reported
    dead = persons.dropna(subset=["death_date"])
    assert len(dead) > 0
    lag = (dead["death_reported_on"] - dead["death_date"]).dt.days
    assert (lag >= 0).all() and lag.quantile(0.95) > 40
    # deaths not reported by the end are not in the data, only in the ground truth
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    hidden = truth.dropna(subset=["death_date"])
    hidden = hidden[~hidden["person_id"].isin(dead["person_id"])]
    assert len(hidden) > 0
    # flexible contributors have no employer; job changes
    contrib = synth_data.contributions
    assert contrib["employer_id"].isna().any()
    jobs = contrib.dropna(subset=["employer_id"]).groupby("person_id")["employer_id"].nunique()
    assert (jobs >= 2).mean() > 0.05
    prov = synth_data.providers
    assert set(prov["provider_type"]) == {"hospital", "clinic", "pharmacy", "rehab"}
    hosp = prov[prov["provider_type"] == "hospital"]
    assert set(hosp["tier"].dropna().astype(int)) == {1, 2, 3}
    assert hosp["beds"].notna().all()


def test_calibration_against_domain_figures(synth_data: ClaimsData, synth_dir: Path) -> None:
    """DOMAIN.md section 4: ~20% admitted a year, ~11,003 CNY and ~9 days a stay, 329 a visit."""
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    claims = synth_data.claims[~synth_data.claims["claim_id"].isin(truth["claim_id"])]
    inp = claims[claims["benefit_type"] == "inpatient"]
    rate = len(inp) / len(synth_data.persons) / 2
    assert 0.15 <= rate <= 0.28
    assert 8_500 <= inp["amount_claimed"].mean() <= 13_500
    los = (inp["service_end"] - inp["service_start"]).dt.days
    assert 7.5 <= los.mean() <= 11
    outp = claims[claims["benefit_type"] == "outpatient"]
    assert 250 <= outp["amount_claimed"].mean() <= 420
    # heavy tails
    assert inp["amount_claimed"].quantile(0.99) > 4 * inp["amount_claimed"].median()
    # honest 15-day readmissions about 10%
    s = inp.sort_values(["person_id", "service_start"])
    same = s["person_id"].to_numpy()[1:] == s["person_id"].to_numpy()[:-1]
    gap = (s["service_start"].to_numpy()[1:] - s["service_end"].to_numpy()[:-1]) / np.timedelta64(
        1, "D"
    )
    readm = (same & (gap >= 0) & (gap <= 15)).sum() / len(inp)
    assert 0.06 <= readm <= 0.15


def test_items_sum_to_claimed_amounts(synth_data: ClaimsData) -> None:
    items = synth_data.claim_items
    total = items.groupby("claim_id")["amount"].sum()
    claimed = synth_data.claims.set_index("claim_id")["amount_claimed"].reindex(total.index)
    assert np.allclose(total.to_numpy(), claimed.to_numpy(), atol=0.02)
    assert np.allclose(items["amount"], items["quantity"] * items["unit_price"], atol=0.011)
    medical = synth_data.claims["benefit_type"].isin(["outpatient", "inpatient", "pharmacy"])
    assert synth_data.claims.loc[medical, "claim_id"].isin(total.index).all()


def test_timing(synth_data: ClaimsData) -> None:
    c = synth_data.claims
    end = c["service_end"]
    assert (c["submitted_at"] >= end).all()
    direct = c["channel"] == "provider_direct"
    assert ((c.loc[direct, "submitted_at"] - end[direct]).dt.days <= 1).all()
    later = (c.loc[~direct, "submitted_at"] - end[~direct]).dt.days
    assert later.median() >= 3
    assert c["submitted_at"].max() < pd.Timestamp("2026-01-01")
    assert c["diagnosis_code"].isna().equals(c["benefit_type"].isin(["pension", "unemployment"]))


def test_labels_are_realistic(synth_data: ClaimsData, synth_dir: Path) -> None:
    labels = synth_data.labels
    assert labels is not None
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    share = len(labels) / len(synth_data.claims)
    assert 0.15 <= share <= 0.4
    assert set(labels["outcome"]) == {"fraud", "abuse", "error", "unfounded"}
    assert set(labels["source"]) == {"investigation", "random_audit"}
    assert labels["is_fraud"].eq(labels["outcome"].isin(["fraud", "abuse"])).all()
    assert labels["typology"].isna().eq(~labels["is_fraud"]).all()
    sub = synth_data.claims.set_index("claim_id")["submitted_at"].reindex(labels["claim_id"])
    weeks = (labels["decided_at"].to_numpy() - sub.to_numpy()) / np.timedelta64(7, "D")
    assert weeks.min() > 0.5 and 3 <= np.median(weeks) <= 10
    # part of the true fraud is never detected: labelled unfounded
    fraud_ids = truth.loc[truth["class"] != "error", "claim_id"]
    missed = labels[labels["claim_id"].isin(fraud_ids) & ~labels["is_fraud"]]
    assert len(missed) > 0
    assert (~truth["detected"]).any()
    # a little label noise: honest claims confirmed as fraud
    noise = labels[labels["is_fraud"] & ~labels["claim_id"].isin(truth["claim_id"])]
    assert 0 < len(noise) < 0.05 * labels["is_fraud"].sum() + 20
    # genuine late death reports: overpaid pensions, honest errors
    errors = truth[truth["class"] == "error"]
    assert (errors["typology"] == "pension_after_death").all() and len(errors) > 0
    err_labels = labels[labels["claim_id"].isin(errors["claim_id"])]
    assert (err_labels["outcome"] == "error").any() and not err_labels["is_fraud"].any()


def test_lookalikes_present(synth_data: ClaimsData, synth_dir: Path) -> None:
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    honest = synth_data.claims[~synth_data.claims["claim_id"].isin(truth["claim_id"])]
    persons = synth_data.persons.set_index("person_id")
    inp = honest[honest["benefit_type"] == "inpatient"].sort_values(["person_id", "service_start"])
    # chemotherapy: C-code readmissions to the same hospital every 2-3 weeks
    chemo = inp[inp["diagnosis_code"].str.startswith("C")]
    nxt = chemo.groupby("person_id")["service_start"].shift(-1)
    gap = (nxt - chemo["service_start"]).dt.days
    same = chemo.groupby("person_id")["provider_id"].shift(-1) == chemo["provider_id"]
    assert (same & gap.between(14, 25)).sum() >= 5
    # chronic refills: 10+ pharmacy claims, mostly one pharmacy
    ph = honest[honest["benefit_type"] == "pharmacy"]
    counts = ph.groupby("person_id").size()
    assert (counts >= 10).sum() >= 20
    # long stays of the very old
    age = (
        inp["service_start"] - persons["birth_date"].reindex(inp["person_id"]).to_numpy()
    ).dt.days
    los = (inp["service_end"] - inp["service_start"]).dt.days
    assert ((age / 365.25 >= 75) & (los >= 20)).sum() >= 5
    # migrants treated outside their insured region
    home = persons["region_code"].reindex(honest["person_id"]).to_numpy()
    medical = honest["benefit_type"].isin(["outpatient", "pharmacy", "inpatient"]).to_numpy()
    away = medical & (honest["region_code"].to_numpy() != home)
    assert honest.loc[away, "person_id"].nunique() >= 10


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"persons": 10}, "persons"),
        ({"persons": 600, "preset": "medium"}, "preset"),
        ({"persons": 600, "months": 3}, "months"),
        ({"persons": 600, "fraud_rate": 0.9}, "fraud_rate"),
        ({"persons": 600, "seed": -1}, "seed"),
        ({"persons": 600, "start": dt.date(2024, 1, 15)}, "start"),
        ({"persons": 600, "typologies": {"bogus": TypologyKnobs(0.1)}}, "bogus"),
        ({"persons": 600, "typologies": {"upcoding": TypologyKnobs(0.9)}}, "prevalence"),
        ({"persons": 600, "typologies": {"upcoding": TypologyKnobs(0.1, onset=2.0)}}, "onset"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        SynthConfig(**kwargs)  # type: ignore[arg-type]


def test_run_synth_refuses_a_file_as_output(tmp_path: Path) -> None:
    target = tmp_path / "not_a_dir"
    target.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        run_synth(target, persons=600, seed=1, fraud_rate=None, preset="low", months=12)


def test_presets_and_fraud_rate() -> None:
    low = SynthConfig(persons=600, preset="low")
    stress = SynthConfig(persons=600, preset="stress")
    for name in TYPOLOGIES:
        assert 0.001 <= low.typologies[name].prevalence <= 0.005
        assert 0.02 <= stress.typologies[name].prevalence <= 0.05
    scaled = SynthConfig(persons=600, fraud_rate=0.01)
    mean = np.mean([k.prevalence for k in scaled.typologies.values()])
    assert mean == pytest.approx(0.01, rel=1e-3)


def test_low_preset_has_less_fraud() -> None:
    def units(preset: str) -> int:
        config = SynthConfig(persons=1500, seed=3, months=12, preset=preset)
        truth = generate(config).ground_truth
        return int(truth.loc[truth["class"] != "error", "unit_id"].nunique())

    assert units("low") < 0.5 * units("stress")


def test_late_onset_is_drift(synth_data: ClaimsData, synth_dir: Path) -> None:
    """A typology with a late onset appears only after it (the model sees it drift in)."""
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    claims = synth_data.claims.set_index("claim_id")
    start = pd.Timestamp(manifest["config"]["start"])
    for typ, knobs in manifest["config"]["typologies"].items():
        if knobs["onset"] < 0.2:
            continue
        ids = truth.loc[truth["typology"] == typ, "claim_id"]
        first = claims.loc[ids, "service_start"].min()
        assert first >= start + pd.Timedelta(days=int(knobs["onset"] * 730) - 1), typ


def test_lookalikes_of_duplicates_and_employment(synth_data: ClaimsData, synth_dir: Path) -> None:
    """Honest claims that share the footprints of duplicate, unbundling and employment fraud."""
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    honest = synth_data.claims[~synth_data.claims["claim_id"].isin(truth["claim_id"])]
    # intravenous courses: same person and provider on following days, same amount within 5%
    outp = honest[honest["benefit_type"] == "outpatient"]
    pairs = outp.merge(outp, on=["person_id", "provider_id"], suffixes=("", "_o"))
    days = (pairs["service_start"] - pairs["service_start_o"]).dt.days
    close = (pairs["amount_claimed"] / pairs["amount_claimed_o"] - 1).abs() <= 0.05
    assert (days.eq(1) & close).sum() >= 10
    # repeated exam lines on honest stays
    items = synth_data.claim_items[synth_data.claim_items["claim_id"].isin(honest["claim_id"])]
    repeated = items.duplicated(["claim_id", "item_code", "quantity", "unit_price"])
    assert repeated.sum() >= 5
    # injuries in the first month of a job, and benefit paid in the month a new job starts
    contrib = synth_data.contributions.dropna(subset=["employer_id"])
    first = contrib.groupby(["person_id", "employer_id"])["month"].min().rename("first")
    wi = honest[honest["benefit_type"] == "work_injury"].merge(
        first.reset_index(), on=["person_id", "employer_id"]
    )
    assert ((wi["service_start"] - wi["first"]).dt.days.between(0, 30)).sum() >= 1
    ui = honest[honest["benefit_type"] == "unemployment"]
    overlap = ui.merge(
        contrib, left_on=["person_id", "service_start"], right_on=["person_id", "month"]
    )
    assert len(overlap) >= 3


def test_cli_writes_a_valid_directory_and_reports_progress(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from riskml.cli import app

    out = tmp_path / "data"
    args = ["synth", "--out", str(out), "--persons", "300", "--seed", "2", "--months", "12"]
    result = CliRunner().invoke(app, [*args, "--preset", "low", "--fraud-rate", "0.01"])
    assert result.exit_code == 0, result.output
    assert "synth: " in result.stderr and "line items" in result.stderr
    data = load_data_dir(out, require_labels=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["claims"] == len(data.claims)
    assert manifest["config"]["fraud_rate"] == 0.01
    bad = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--preset", "huge"])
    assert bad.exit_code == 2
    assert "preset" in bad.stderr
    assert not (tmp_path / "x").exists()
