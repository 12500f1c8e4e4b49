"""Each typology is present in labels and ground truth, and leaves its footprint in the data.

One test per typology checks the signature on the contract tables themselves (not on hidden
generator state), so a feature engineer can rely on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskml.contract import TYPOLOGIES
from riskml.data import ClaimsData
from riskml.synth.reference import (
    DIAGNOSES,
    GENERIC_DRUGS,
    GENERIC_EXAMS,
    INFUSION_DRUGS,
    ITEM_CODES,
    ITEMS,
    REGION_CODES,
    UPCODE_MAP,
    region_distance_km,
)


@pytest.fixture(scope="module")
def truth(synth_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(synth_dir / "ground_truth.parquet")


def _claims_of(data: ClaimsData, truth: pd.DataFrame, typology: str) -> pd.DataFrame:
    ids = truth.loc[(truth["typology"] == typology) & (truth["class"] != "error"), "claim_id"]
    out = data.claims[data.claims["claim_id"].isin(ids)]
    assert len(out) > 0, f"no {typology} claims in the data"
    return out


@pytest.mark.parametrize("typology", TYPOLOGIES)
def test_typology_in_labels_and_ground_truth(
    synth_data: ClaimsData, truth: pd.DataFrame, typology: str
) -> None:
    labels = synth_data.labels
    assert labels is not None
    positives = labels[labels["is_fraud"] & (labels["typology"] == typology)]
    assert len(positives) >= 3, typology
    gt = truth[(truth["typology"] == typology) & (truth["class"] != "error")]
    assert len(gt) >= 5, typology
    # most positive labels of a typology point at ground-truth claims of that typology
    assert positives["claim_id"].isin(gt["claim_id"]).mean() > 0.6


def test_pension_after_death(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "pension_after_death")
    p = synth_data.persons.set_index("person_id")
    true_death = truth.set_index("claim_id")["death_date"].reindex(c["claim_id"]).to_numpy()
    assert (c["benefit_type"] == "pension").all()
    assert (c["service_start"].to_numpy() > true_death).all()
    # where the data knows the death, the pension was paid for months after it
    death = p["death_date"].reindex(c["person_id"]).to_numpy()
    known = ~pd.isna(death)
    assert known.mean() > 0.5
    assert (c["service_start"].to_numpy()[known] > death[known]).all()
    # the administration did not know of the death when most of them were submitted
    reported = p["death_reported_on"].reindex(c["person_id"]).to_numpy()
    unknown = pd.isna(reported) | (c["submitted_at"].to_numpy() < reported)
    assert unknown.mean() > 0.5


def test_duplicate_benefit(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "duplicate_benefit")
    cl = synth_data.claims
    pairs = c.merge(cl, on=["person_id", "benefit_type", "service_start"], suffixes=("", "_o"))
    pairs = pairs[pairs["claim_id"] != pairs["claim_id_o"]]
    other_region = pairs[pairs["region_code"] != pairs["region_code_o"]]
    assert set(other_region["claim_id"]) == set(c["claim_id"])
    assert c["benefit_type"].isin(["pension", "unemployment"]).all()


def test_unemployment_while_employed(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "unemployment_while_employed")
    assert (c["benefit_type"] == "unemployment").all()
    contrib = synth_data.contributions.dropna(subset=["employer_id"])
    month = c["service_start"].dt.to_period("M").dt.to_timestamp()
    hits = c.assign(month=month).merge(contrib, on=["person_id", "month"])
    assert set(hits["claim_id"]) == set(c["claim_id"])


def test_fictitious_employment(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "fictitious_employment")
    assert (c["benefit_type"] == "maternity").all()
    emp = synth_data.employers.set_index("employer_id")
    contrib = synth_data.contributions
    region_median = (
        contrib.merge(synth_data.persons[["person_id", "region_code"]])
        .groupby("region_code")["contribution_base"]
        .median()
    )
    for eid, group in c.groupby("employer_id"):
        members = contrib[contrib["employer_id"] == eid]
        first = members["month"].min()
        # registered shortly before a hiring burst, bases far above the regional median
        assert emp.loc[eid, "registered_on"] >= first - pd.Timedelta(days=160)
        assert members["person_id"].nunique() >= 5
        region = emp.loc[eid, "region_code"]
        assert members["contribution_base"].min() >= 1.5 * region_median[region]
        # births 2-4 months after joining
        joined = members.groupby("person_id")["month"].min()
        gap = group["service_start"].to_numpy() - joined.reindex(group["person_id"]).to_numpy()
        assert (gap <= np.timedelta64(130, "D")).all()


def test_work_injury_fabricated(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "work_injury_fabricated")
    assert (c["benefit_type"] == "work_injury").all()
    contrib = synth_data.contributions.dropna(subset=["employer_id"])
    first = contrib.groupby(["person_id", "employer_id"])["month"].min().rename("first")
    joined = c.merge(first.reset_index(), on=["person_id", "employer_id"], how="left")
    days = (joined["service_start"] - joined["first"]).dt.days
    # injured within days of the first contribution month (or just before it)
    assert days.between(-10, 20).all()


def test_phantom_hospitalization(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "phantom_hospitalization")
    prov = synth_data.providers.set_index("provider_id")
    assert (c["benefit_type"] == "inpatient").all()
    assert (prov.loc[c["provider_id"], "ownership"] == "private").all()
    assert (prov.loc[c["provider_id"], "tier"] == 1).all()
    # long stays with few items
    lines = synth_data.claim_items[synth_data.claim_items["claim_id"].isin(c["claim_id"])]
    assert lines.groupby("claim_id").size().max() <= 4
    assert ((c["service_end"] - c["service_start"]).dt.days >= 12).all()
    # the hospital's daily census exceeds its licensed beds
    inp = synth_data.claims[
        (synth_data.claims["benefit_type"] == "inpatient")
        & synth_data.claims["provider_id"].isin(c["provider_id"])
    ]
    for pid, stays in inp.groupby("provider_id"):
        days = pd.date_range(stays["service_start"].min(), stays["service_end"].max())
        census = [((stays["service_start"] <= d) & (stays["service_end"] > d)).sum() for d in days]
        assert max(census) > prov.loc[pid, "beds"]


def test_split_hospitalization(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "split_hospitalization")
    inp = synth_data.claims[synth_data.claims["benefit_type"] == "inpatient"]
    pairs = c.merge(inp, on=["person_id", "provider_id", "diagnosis_code"], suffixes=("", "_p"))
    gap = (pairs["service_start"] - pairs["service_end_p"]).dt.days
    readmitted = pairs[gap.between(1, 14)]
    assert set(readmitted["claim_id"]) == set(c["claim_id"])


def test_upcoding(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "upcoding")
    heavy_to_light: dict[str, set[str]] = {}
    for light, heavy in UPCODE_MAP.items():
        heavy_to_light.setdefault(heavy, set()).add(light)
    assert c["diagnosis_code"].isin(list(heavy_to_light)).all()
    dx = {d.code: d for d in DIAGNOSES}
    generic = set(ITEM_CODES[np.concatenate([GENERIC_DRUGS, GENERIC_EXAMS, INFUSION_DRUGS])])
    items = synth_data.claim_items
    for _, claim in c.iterrows():
        code = claim["diagnosis_code"]
        lights = heavy_to_light[code]
        light_items = {i for lt in lights for i in (*dx[lt].drugs, *dx[lt].exams, *dx[lt].procs)}
        markers = {*dx[code].drugs, *dx[code].exams, *dx[code].procs} - light_items - generic
        billed = set(items.loc[items["claim_id"] == claim["claim_id"], "item_code"])
        # the claimed (heavy) diagnosis is not what the items treat
        assert not billed & markers, (code, billed & markers)


def test_unbundling(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "unbundling")
    items = synth_data.claim_items[synth_data.claim_items["claim_id"].isin(c["claim_id"])]
    component = items["item_code"].str.contains("-", regex=False)
    dup = items.duplicated(["claim_id", "item_code", "quantity", "unit_price"], keep=False)
    flagged = set(items.loc[component | dup, "claim_id"])
    assert flagged == set(c["claim_id"])
    # honest claims never carry package components
    honest = synth_data.claim_items[~synth_data.claim_items["claim_id"].isin(truth["claim_id"])]
    assert not honest["item_code"].str.contains("-", regex=False).any()


def test_duplicate_claim(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "duplicate_claim")
    cl = synth_data.claims
    pairs = c.merge(cl, on=["person_id", "provider_id"], suffixes=("", "_o"))
    pairs = pairs[pairs["claim_id"] != pairs["claim_id_o"]]
    near = (
        ((pairs["service_start"] - pairs["service_start_o"]).dt.days.abs() <= 1)
        & ((pairs["amount_claimed"] / pairs["amount_claimed_o"] - 1).abs() <= 0.05)
        & (pairs["submitted_at_o"] < pairs["submitted_at"])
    )
    assert set(pairs.loc[near, "claim_id"]) == set(c["claim_id"])


def test_identity_impersonation(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "identity_impersonation")
    p = synth_data.persons.set_index("person_id")
    who = p.reindex(c["person_id"])
    true_death = truth.set_index("claim_id")["death_date"].reindex(c["claim_id"]).to_numpy()
    after_death = c["service_start"].to_numpy() > true_death
    sex = who["sex"].to_numpy()
    dx = c["diagnosis_code"].to_numpy()
    wrong_sex = ((sex == "M") & np.isin(dx, ["O80", "O82"])) | ((sex == "F") & (dx == "N40"))
    age = (c["service_start"].to_numpy() - who["birth_date"].to_numpy()) / np.timedelta64(365, "D")
    wrong_age = (dx == "H25.9") & (age < 40)
    dist = pd.DataFrame(region_distance_km(), index=REGION_CODES, columns=REGION_CODES)
    same_day = c.merge(synth_data.claims, on=["person_id", "service_start"], suffixes=("", "_o"))
    same_day = same_day[same_day["claim_id"] != same_day["claim_id_o"]]
    km = dist.to_numpy()[
        dist.index.get_indexer(same_day["region_code"]),
        dist.columns.get_indexer(same_day["region_code_o"]),
    ]
    far = c["claim_id"].isin(same_day.loc[km >= 800, "claim_id"]).to_numpy()
    assert (after_death | wrong_sex | wrong_age | far).all()
    assert after_death.any() and (wrong_sex | wrong_age).any() and far.any()


def test_drug_reselling(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "drug_reselling")
    days_per_unit = {it.code: it.days_per_unit for it in ITEMS}
    items = synth_data.claim_items.merge(
        c[["claim_id", "person_id", "provider_id", "service_start"]]
    )
    drugs = items[items["item_category"] == "drug"]
    for _, g in drugs.groupby("person_id"):
        assert g["provider_id"].nunique() >= 2
        supply = (g["quantity"] * g["item_code"].map(days_per_unit)).sum()
        elapsed = (g["service_start"].max() - g["service_start"].min()).days + 30
        assert supply > elapsed
    # resold packs come back: trace codes repeat across claims
    codes = drugs.dropna(subset=["trace_code"]).groupby("trace_code")["claim_id"].nunique()
    assert (codes >= 2).any()
    honest = synth_data.claim_items[~synth_data.claim_items["claim_id"].isin(truth["claim_id"])]
    honest_codes = honest.dropna(subset=["trace_code"])["trace_code"]
    assert honest_codes.is_unique


def test_collusion_ring(synth_data: ClaimsData, truth: pd.DataFrame) -> None:
    c = _claims_of(synth_data, truth, "collusion_ring")
    ring = truth[truth["typology"] == "collusion_ring"].set_index("claim_id")["unit_id"]
    c = c.assign(unit=ring.reindex(c["claim_id"]).to_numpy())
    for _, g in c.groupby("unit"):
        assert g["provider_id"].nunique() == 1
        assert g["doctor_id"].nunique() == 1
        # co-admission bursts: many members on the same or the next day
        per_day = g.groupby(g["service_start"].dt.floor("2D"))["person_id"].nunique()
        assert per_day.max() >= 4
