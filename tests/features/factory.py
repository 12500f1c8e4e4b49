"""Small hand-built and random data sets for the feature tests (no synthetic generator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES
from riskml.data import ClaimsData

D = pd.to_datetime


def _claims(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in ("provider_id", "employer_id", "diagnosis_code"):
        if col not in df:
            df[col] = None
    df["submitted_at"] = D(df["submitted_at"])
    df["service_start"] = D(df["service_start"])
    df["service_end"] = D(df["service_end"])
    df["channel"] = df.get("channel", "provider_direct")
    df["channel"] = df["channel"].fillna("provider_direct")
    return df[
        [
            "claim_id",
            "person_id",
            "benefit_type",
            "provider_id",
            "employer_id",
            "region_code",
            "submitted_at",
            "service_start",
            "service_end",
            "diagnosis_code",
            "amount_claimed",
            "channel",
        ]
    ]


def tiny() -> ClaimsData:
    """Hand-built scenarios with known feature values (see tests/features/test_families.py)."""
    persons = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P4", "P5"],
            "birth_date": D(["1930-01-01", "1985-05-05", "1992-02-02", "1970-07-07", "1990-01-01"]),
            "sex": ["F", "M", "F", "M", "F"],
            "region_code": ["110105", "310115", "310115", "440305", "310115"],
            "hukou_type": ["urban", "rural", "urban", "urban", "rural"],
            "enrolled_on": D(
                ["1990-01-01", "2010-01-01", "2023-11-01", "2000-01-01", "2015-01-01"]
            ),
            "death_date": D(["2024-03-10", None, None, None, None]),
            "death_reported_on": D(["2024-04-20", None, None, None, None]),
        }
    )
    employers = pd.DataFrame(
        {
            "employer_id": ["E1", "E2"],
            "region_code": ["310115", "310115"],
            "industry": ["C", "F"],
            "size_band": ["micro", "medium"],
            "registered_on": D(["2023-10-01", "2005-01-01"]),
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": ["H1", "H2", "PH1", "PH2"],
            "provider_type": ["hospital", "hospital", "pharmacy", "pharmacy"],
            "tier": pd.array([2, 1, None, None], dtype="Int64"),
            "ownership": ["public", "private", "private", "public"],
            "region_code": ["110105", "310115", "310115", "440305"],
            "designated_on": D(["2000-01-01"] * 4),
            "beds": pd.array([10, 2, None, None], dtype="Int64"),
        }
    )
    months_p2 = pd.date_range("2023-01-01", "2024-06-01", freq="MS")
    months_p3 = pd.date_range("2023-12-01", "2024-02-01", freq="MS")
    months_p5 = pd.date_range("2023-06-01", "2024-06-01", freq="MS")
    contributions = pd.DataFrame(
        {
            "person_id": ["P2"] * len(months_p2)
            + ["P3"] * len(months_p3)
            + ["P5"] * len(months_p5),
            "employer_id": ["E2"] * len(months_p2)
            + ["E1"] * len(months_p3)
            + ["E1"] * len(months_p5),
            "month": list(months_p2) + list(months_p3) + list(months_p5),
            "contribution_base": [6000.0] * len(months_p2)
            + [20000.0] * len(months_p3)
            + [5000.0] * len(months_p5),
        }
    )
    c = [
        # P1: pensions around an unreported, then reported death (died 2024-03-10, known 04-20)
        dict(claim_id="C01", person_id="P1", benefit_type="pension", region_code="110105",
             submitted_at="2024-03-01 09:00", service_start="2024-02-01",
             service_end="2024-02-29", amount_claimed=3000.0, channel="counter"),
        dict(claim_id="C02", person_id="P1", benefit_type="pension", region_code="110105",
             submitted_at="2024-04-01 09:00", service_start="2024-03-01",
             service_end="2024-03-31", amount_claimed=3000.0, channel="counter"),
        dict(claim_id="C03", person_id="P1", benefit_type="pension", region_code="110105",
             submitted_at="2024-05-01 09:00", service_start="2024-04-01",
             service_end="2024-04-30", amount_claimed=3000.0, channel="counter"),
        # P2: stay at H1 and readmission 6 days after discharge with the same diagnosis
        dict(claim_id="C04", person_id="P2", benefit_type="inpatient", provider_id="H1",
             region_code="110105", submitted_at="2024-01-20 10:00",
             service_start="2024-01-10", service_end="2024-01-15", diagnosis_code="J18.9",
             amount_claimed=6000.0),
        dict(claim_id="C05", person_id="P2", benefit_type="inpatient", provider_id="H1",
             region_code="110105", submitted_at="2024-01-28 10:00",
             service_start="2024-01-21", service_end="2024-01-25", diagnosis_code="J18.0",
             amount_claimed=5000.0),
        # P2: unemployment benefit while still contributing with E2
        dict(claim_id="C06", person_id="P2", benefit_type="unemployment", employer_id="E2",
             region_code="310115", submitted_at="2024-05-05 09:00",
             service_start="2024-04-01", service_end="2024-04-30", amount_claimed=1800.0,
             channel="online"),
        dict(claim_id="C07", person_id="P2", benefit_type="unemployment", employer_id="E2",
             region_code="310115", submitted_at="2024-06-03 09:00",
             service_start="2024-05-01", service_end="2024-05-31", amount_claimed=1800.0,
             channel="online"),
        # P4: the same pension month in two regions
        dict(claim_id="C08", person_id="P4", benefit_type="pension", region_code="440305",
             submitted_at="2024-04-02 09:00", service_start="2024-03-01",
             service_end="2024-03-31", amount_claimed=2500.0, channel="counter"),
        dict(claim_id="C09", person_id="P4", benefit_type="pension", region_code="110105",
             submitted_at="2024-04-03 09:00", service_start="2024-03-01",
             service_end="2024-03-31", amount_claimed=2500.0, channel="counter"),
        # P3: maternity 105 days after joining E1 on a high base
        dict(claim_id="C10", person_id="P3", benefit_type="maternity", employer_id="E1",
             region_code="310115", submitted_at="2024-03-20 09:00",
             service_start="2024-03-15", service_end="2024-03-15", diagnosis_code="O80",
             amount_claimed=60000.0, channel="counter"),
        # P4: the same drug from two pharmacies, a resurfacing trace code
        dict(claim_id="C11", person_id="P4", benefit_type="pharmacy", provider_id="PH1",
             region_code="310115", submitted_at="2024-01-01 10:00",
             service_start="2024-01-01", service_end="2024-01-01", diagnosis_code="E11",
             amount_claimed=300.0),
        dict(claim_id="C12", person_id="P4", benefit_type="pharmacy", provider_id="PH2",
             region_code="440305", submitted_at="2024-01-05 10:00",
             service_start="2024-01-05", service_end="2024-01-05", diagnosis_code="E11",
             amount_claimed=300.0),
        dict(claim_id="C13", person_id="P4", benefit_type="pharmacy", provider_id="PH1",
             region_code="310115", submitted_at="2024-01-10 10:00",
             service_start="2024-01-10", service_end="2024-01-10", diagnosis_code="E11",
             amount_claimed=300.0),
        # P4 (a man): endometriosis in Beijing, then a pharmacy claim in Shenzhen the same day
        dict(claim_id="C14", person_id="P4", benefit_type="outpatient", provider_id="H1",
             region_code="110105", submitted_at="2024-02-01 10:00",
             service_start="2024-02-01", service_end="2024-02-01", diagnosis_code="N80.1",
             amount_claimed=400.0),
        dict(claim_id="C15", person_id="P4", benefit_type="pharmacy", provider_id="PH2",
             region_code="440305", submitted_at="2024-02-01 12:00",
             service_start="2024-02-01", service_end="2024-02-01", diagnosis_code="E11",
             amount_claimed=300.0),
        # P5: a near-duplicate of C05's provider visit; same-day duplicate outpatient claims
        dict(claim_id="C16", person_id="P5", benefit_type="outpatient", provider_id="H2",
             region_code="310115", submitted_at="2024-02-10 10:00",
             service_start="2024-02-10", service_end="2024-02-10", diagnosis_code="K29",
             amount_claimed=500.0),
        dict(claim_id="C17", person_id="P5", benefit_type="outpatient", provider_id="H2",
             region_code="310115", submitted_at="2024-02-11 10:00",
             service_start="2024-02-10", service_end="2024-02-10", diagnosis_code="K29",
             amount_claimed=510.0),
    ]  # fmt: skip
    claims = _claims(c)
    items = pd.DataFrame(
        {
            "claim_id": ["C04", "C04", "C04", "C11", "C12", "C13", "C15"],
            "line_no": pd.array([1, 2, 3, 1, 1, 1, 1], dtype="Int64"),
            "item_code": ["B1", "B1", "X9", "D1", "D1", "D1", "D1"],
            "item_category": ["bed", "bed", "exam", "drug", "drug", "drug", "drug"],
            "quantity": [1.0, 1.0, 1.0, 30.0, 30.0, 30.0, 30.0],
            "unit_price": [100.0, 100.0, 800.0, 10.0, 10.0, 10.0, 10.0],
            "amount": [100.0, 100.0, 800.0, 300.0, 300.0, 300.0, 300.0],
            "trace_code": [None, None, None, "T1", "T2", "T1", "T3"],
        }
    )
    return ClaimsData(persons, employers, providers, contributions, claims, items, None)


def random_data(seed: int = 0, n_persons: int = 80, n_claims: int = 900) -> ClaimsData:
    """A random but contract-valid data set over 2024 covering every benefit type."""
    rng = np.random.default_rng(seed)
    pid = np.array([f"P{i:04d}" for i in range(n_persons)])
    regions = np.array(["110105", "310115", "440305", "500103"])
    death = pd.Series(pd.NaT, index=range(n_persons), dtype="datetime64[ns]")
    dead = rng.random(n_persons) < 0.15
    death[dead] = D("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, dead.sum()), unit="D")
    reported = death + pd.to_timedelta(rng.integers(0, 120, n_persons), unit="D")
    persons = pd.DataFrame(
        {
            "person_id": pid,
            "birth_date": D("1940-01-01")
            + pd.to_timedelta(rng.integers(0, 60 * 365, n_persons), unit="D"),
            "sex": rng.choice(["F", "M"], n_persons),
            "region_code": rng.choice(regions, n_persons),
            "hukou_type": rng.choice(["urban", "rural"], n_persons),
            "enrolled_on": D("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 3000, n_persons), unit="D"),
            "death_date": death.to_numpy(),
            "death_reported_on": reported.to_numpy(),
        }
    )
    eid = np.array([f"E{i}" for i in range(6)])
    employers = pd.DataFrame(
        {
            "employer_id": eid,
            "region_code": rng.choice(regions, len(eid)),
            "industry": rng.choice(list("CFGH"), len(eid)),
            "size_band": rng.choice(["micro", "small", "medium"], len(eid)),
            "registered_on": D("2010-01-01")
            + pd.to_timedelta(rng.integers(0, 5000, len(eid)), unit="D"),
        }
    )
    prv = np.array(["H1", "H2", "H3", "C1", "PH1", "PH2"])
    providers = pd.DataFrame(
        {
            "provider_id": prv,
            "provider_type": ["hospital", "hospital", "hospital", "clinic", "pharmacy", "pharmacy"],
            "tier": pd.array([3, 2, 1, None, None, None], dtype="Int64"),
            "ownership": ["public", "public", "private", "private", "private", "public"],
            "region_code": ["110105", "310115", "310115", "440305", "310115", "500103"],
            "designated_on": D(["2001-01-01"] * 6),
            "beds": pd.array([500, 120, 15, None, None, None], dtype="Int64"),
        }
    )
    months = pd.date_range("2023-06-01", "2024-12-01", freq="MS")
    workers = rng.choice(n_persons, n_persons // 2, replace=False)
    rows = []
    for w_ in workers:  # small fixture: per-person spell construction is clearer than vectorising
        start = rng.integers(0, len(months) - 2)
        stop = rng.integers(start + 1, len(months))
        emp = rng.choice(eid)
        base = float(rng.integers(3000, 25000))
        rows.extend((pid[w_], emp, m, base) for m in months[start:stop])
    contributions = pd.DataFrame(
        rows, columns=["person_id", "employer_id", "month", "contribution_base"]
    )
    bt = rng.choice(list(BENEFIT_TYPES), n_claims, p=[0.35, 0.15, 0.25, 0.05, 0.05, 0.05, 0.1])
    person = rng.choice(pid[: n_persons // 2 + 10], n_claims)  # some persons claim a lot
    ss = D("2024-01-01") + pd.to_timedelta(rng.integers(0, 350, n_claims), unit="D")
    los = np.where(bt == "inpatient", rng.integers(1, 15, n_claims), 0)
    se = ss + pd.to_timedelta(los, unit="D")
    sub = se + pd.to_timedelta(rng.integers(0, 20 * 86400, n_claims), unit="s")
    medical = np.isin(bt, ["outpatient", "inpatient", "pharmacy"])
    prov = np.where(
        bt == "pharmacy",
        rng.choice(["PH1", "PH2"], n_claims),
        rng.choice(["H1", "H2", "H3", "C1"], n_claims),
    )
    prov = np.where(medical, prov, None)
    emp = np.where(
        np.isin(bt, ["work_injury", "maternity", "unemployment"]), rng.choice(eid, n_claims), None
    )
    dx = rng.choice(["J18.9", "E11.9", "I10", "K29.7", "S82.1", "C50.9", "O80"], n_claims)
    dx = np.where(medical | (bt == "work_injury") | (bt == "maternity"), dx, None)
    amount = np.round(rng.lognormal(7, 1, n_claims), 2)
    claims = pd.DataFrame(
        {
            "claim_id": [f"C{i:05d}" for i in range(n_claims)],
            "person_id": person,
            "benefit_type": bt,
            "provider_id": prov,
            "employer_id": emp,
            "region_code": rng.choice(regions, n_claims),
            "submitted_at": sub,
            "service_start": ss,
            "service_end": se,
            "diagnosis_code": dx,
            "amount_claimed": amount,
            "channel": rng.choice(["provider_direct", "counter", "online"], n_claims),
            "doctor_id": np.where(medical, rng.choice(["D1", "D2", "D3"], n_claims), None),
        }
    )
    # a few exact duplicates of submission time to exercise the claim_id tie-break
    claims.loc[claims.index[1:40:7], "submitted_at"] = claims["submitted_at"].iloc[0]
    med_ids = claims.loc[medical, "claim_id"].to_numpy()
    n_lines = rng.integers(1, 5, len(med_ids))
    item_claim = np.repeat(med_ids, n_lines)
    line_no = np.concatenate([np.arange(1, k + 1) for k in n_lines])
    cat = rng.choice(["drug", "exam", "bed", "procedure"], len(item_claim))
    qty = rng.integers(1, 40, len(item_claim)).astype(float)
    price = np.round(rng.lognormal(3, 1, len(item_claim)), 2)
    items = pd.DataFrame(
        {
            "claim_id": item_claim,
            "line_no": pd.array(line_no, dtype="Int64"),
            "item_code": rng.choice(["D1", "D2", "X1", "B1"], len(item_claim)),
            "item_category": cat,
            "quantity": qty,
            "unit_price": price,
            "amount": qty * price,
            "trace_code": np.where(
                cat == "drug", rng.choice([f"T{i}" for i in range(60)], len(item_claim)), None
            ),
        }
    )
    return ClaimsData(persons, employers, providers, contributions, claims, items, None)
