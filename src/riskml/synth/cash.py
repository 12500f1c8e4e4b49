"""Legitimate benefit claims: pensions, unemployment, maternity and work injury.

Pensions and unemployment benefit are claimed month by month (one claim per benefit month,
submitted in the first days of the next month). Pensions stop once a death is *reported*; a
genuinely late report leaves a few months of overpayment, recorded in the ground truth as an
honest ``error`` (typology ``pension_after_death``, never fraud).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.synth.employment import EMPLOYED, FLEX, RETIRED, UI
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import DX_INDEX, WAGE_INDEX
from riskml.synth.world import (
    BENEFIT,
    CHANNEL,
    CLASS,
    LOOK,
    NO_DAY,
    TYPOLOGY,
    World,
    ages_at,
    day_seconds,
    make_claims,
    submit_after,
)


def pension_amounts(rng: np.random.Generator, persons: pd.DataFrame) -> np.ndarray:
    """Monthly pension per person: bimodal, employee scheme vs resident scheme."""
    n = len(persons)
    wi = WAGE_INDEX[persons["region"].to_numpy()]
    employee = persons["pension_kind"].to_numpy() == "employee"
    emp_amt = 3_300.0 * wi * rng.lognormal(0, 0.25, n)
    res_amt = 190.0 * wi**0.8 * rng.lognormal(0, 0.2, n)
    return np.round(np.where(employee, emp_amt, res_amt), 2)


def monthly_claims(
    rng: np.random.Generator,
    world: World,
    pid: np.ndarray,
    month: np.ndarray,
    amount: np.ndarray,
    benefit: str,
    eid: np.ndarray | int = -1,
) -> pd.DataFrame:
    """One cash claim per benefit month, submitted 1-10 days after the month ends."""
    tl = world.timeline
    n = len(pid)
    start = tl.month_start(month)
    end = tl.month_start(month + 1) - 1
    channel = np.where(rng.random(n) < 0.75, CHANNEL["online"], CHANNEL["counter"])
    sub = (end + rng.integers(1, 11, n)) * 86_400 + day_seconds(rng, n)
    region = world.persons["region"].to_numpy()[pid]
    return make_claims(
        n,
        pid=pid,
        benefit=BENEFIT[benefit],
        eid=eid,
        region=region,
        sub_s=sub,
        start=start,
        end=end,
        amount=amount,
        channel=channel,
    )


def pension_claims(rng: np.random.Generator, world: World) -> pd.DataFrame:
    """Monthly pensions of retirees, continuing after death until the death is reported."""
    tl = world.timeline
    persons = world.persons
    monthly = pension_amounts(rng, persons)
    months = world.months
    ret = months[(months["state"] == RETIRED) & (months["month"] >= 0)]
    pid = ret["pid"].to_numpy()
    month = ret["month"].to_numpy()
    # months after death that are still paid because the death is not yet known
    death = persons["death"].to_numpy()
    reported = persons["reported"].to_numpy()
    last = months[months["state"] == RETIRED].groupby("pid")["month"].max()
    dead_ret = last.index.to_numpy()[death[last.index.to_numpy()] < NO_DAY]
    first_after = last.loc[dead_ret].to_numpy() + 1
    # claim for month m is submitted about 1-10 days after month m ends
    report_month = tl.month_of(np.minimum(reported[dead_ret], tl.n_days + 400))
    n_extra = np.clip(np.minimum(report_month - 1, tl.months - 1) - first_after + 1, 0, None)
    xp = np.repeat(dead_ret, n_extra)
    xm = np.repeat(first_after, n_extra) + _ranks(n_extra)
    all_pid = np.concatenate([pid, xp])
    all_month = np.concatenate([month, xm])
    raise_jan = 1.03 ** np.floor(all_month / 12)
    claims = monthly_claims(rng, world, all_pid, all_month, monthly[all_pid] * raise_jan, "pension")
    # drop claims submitted after the death was reported (the administration stopped paying)
    known = reported[all_pid] * 86_400 <= claims["sub_s"].to_numpy()
    claims = claims.loc[~known].reset_index(drop=True)
    after = claims["start"].to_numpy() > death[claims["pid"].to_numpy()]
    claims.loc[after, "typ"] = TYPOLOGY["pension_after_death"]
    claims.loc[after, "tclass"] = CLASS["error"]
    claims.loc[after, "improper_share"] = 1.0
    claims.loc[after, "look"] = LOOK["late_death"]
    claims.loc[after, "unit"] = claims.loc[after, "pid"]
    return claims


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0..k-1 for each group of a ``np.repeat(x, counts)`` layout."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


def unemployment_claims(rng: np.random.Generator, world: World) -> pd.DataFrame:
    """Monthly unemployment benefit (about 1,585 CNY at wage index 1) for every benefit month."""
    months = world.months
    ui = months[(months["state"] == UI) & (months["month"] >= 0)]
    pid = ui["pid"].to_numpy()
    wi = WAGE_INDEX[world.persons["region"].to_numpy()[pid]]
    amount = np.round(1_585.0 * wi**0.7 * rng.uniform(0.9, 1.1, len(pid)), 2)
    return monthly_claims(
        rng, world, pid, ui["month"].to_numpy(), amount, "unemployment", ui["last_eid"].to_numpy()
    )


def maternity_claims(
    rng: np.random.Generator, world: World, chooser: ProviderChooser
) -> pd.DataFrame:
    """Births of contributing women: a delivery stay and the maternity allowance (98 days)."""
    tl = world.timeline
    months = world.months
    persons = world.persons
    # employees and flexible contributors (allowance without an employer) can claim
    emp = months[months["state"].isin([EMPLOYED, FLEX]) & (months["month"] >= 0)]
    pid = emp["pid"].to_numpy()
    female = persons["sex"].to_numpy()[pid] == "F"
    day = tl.month_start(emp["month"].to_numpy())
    age = ages_at(persons["birth"].to_numpy()[pid], day)
    p = np.where((age >= 22) & (age <= 40), 0.009 * np.exp(-((age - 29) ** 2) / 60), 0.0)
    birth = female & (rng.random(len(pid)) < p)
    sel = emp.loc[birth]
    sel = sel.drop_duplicates("pid")
    return delivery_and_allowance(
        rng, world, chooser, sel["pid"].to_numpy(), sel["month"].to_numpy(), sel["eid"].to_numpy()
    )


def delivery_and_allowance(
    rng: np.random.Generator,
    world: World,
    chooser: ProviderChooser,
    pid: np.ndarray,
    month: np.ndarray,
    eid: np.ndarray,
    base_multiplier: np.ndarray | float = 1.0,
) -> pd.DataFrame:
    """A delivery stay (inpatient) plus the maternity allowance claim of each birth."""
    tl = world.timeline
    n = len(pid)
    persons = world.persons
    region = persons["region"].to_numpy()[pid]
    day = tl.month_start(month) + rng.integers(0, 28, n)
    caesarean = rng.random(n) < 0.4
    dx = np.where(caesarean, DX_INDEX["O82"], DX_INDEX["O80"])
    los = np.where(caesarean, rng.integers(4, 7, n), rng.integers(2, 4, n))
    prid = chooser.hospital.sample(rng, region)
    channel = np.full(n, CHANNEL["provider_direct"])
    wi = WAGE_INDEX[region]
    stay = make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["inpatient"],
        prid=prid,
        region=region,
        start=day,
        end=day + los,
        sub_s=submit_after(rng, day + los, channel),
        dx=dx,
        amount=np.where(caesarean, 9_000.0, 4_500.0) * wi**0.5 * rng.lognormal(0, 0.25, n),
        channel=channel,
        doctor=chooser.doctor(rng, prid),
        los=los,
    )
    base = 7_500.0 * wi * rng.lognormal(-0.1, 0.3, n) * base_multiplier
    end = day + 97
    a_channel = np.where(rng.random(n) < 0.5, CHANNEL["online"], CHANNEL["counter"])
    allowance = make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["maternity"],
        prid=prid,
        eid=eid,
        region=region,
        start=day,
        end=end,
        sub_s=(end + np.ceil(rng.lognormal(np.log(12), 0.6, n)).astype(np.int64)) * 86_400
        + day_seconds(rng, n),
        dx=dx,
        amount=np.round(base / 30 * 98, 2),
        channel=a_channel,
    )
    return pd.concat([stay, allowance], ignore_index=True)


def work_injury_claims(
    rng: np.random.Generator,
    world: World,
    chooser: ProviderChooser,
    pid: np.ndarray | None = None,
    day: np.ndarray | None = None,
    eid: np.ndarray | None = None,
    severity: np.ndarray | float = 1.0,
) -> pd.DataFrame:
    """Work injuries: about 0.7% of workers a year, 3% in a first month (honest), or as given."""
    tl = world.timeline
    persons = world.persons
    if pid is None or day is None or eid is None:
        months = world.months
        emp = months[(months["state"] == EMPLOYED) & (months["month"] >= 0)]
        # new hires are injured more often (inexperience): an honest look-alike of fabrication
        hired = emp["hire"].to_numpy() | emp["overlap"].to_numpy()
        hit = rng.random(len(emp)) < np.where(hired, 0.0025, 0.0006)
        sel = emp.loc[hit]
        pid = sel["pid"].to_numpy()
        eid = sel["eid"].to_numpy()
        day = tl.month_start(sel["month"].to_numpy()) + rng.integers(0, 28, len(sel))
    n = len(pid)
    region = persons["region"].to_numpy()[pid]
    dx_pool = np.array([DX_INDEX[c] for c in ("S61.0", "S62.6", "S82.2", "S72.0")])
    dx = dx_pool[rng.choice(4, size=n, p=[0.35, 0.3, 0.25, 0.1])]
    minor = dx <= DX_INDEX["S62.6"]
    los = np.where(minor, rng.integers(0, 3, n), rng.integers(8, 20, n))
    prid = chooser.hospital.sample(rng, region)
    channel = np.where(rng.random(n) < 0.7, CHANNEL["counter"], CHANNEL["online"])
    wi = WAGE_INDEX[region]
    amount = np.where(minor, 1_800.0, 26_000.0) * wi**0.5 * rng.lognormal(-0.1, 0.5, n) * severity
    return make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["work_injury"],
        prid=prid,
        eid=eid,
        region=region,
        start=day,
        end=day + los,
        sub_s=submit_after(rng, day + los, channel),
        dx=dx,
        amount=amount,
        channel=channel,
        doctor=chooser.doctor(rng, prid),
        los=np.maximum(los, 1),
    )
