"""Legitimate medical claims: outpatient visits, pharmacy purchases and hospital stays.

Rates and costs follow DOMAIN.md section 4: about 20% of the insured are admitted each year
(far more among the old), stays average about 9 days and 11,003 CNY, an outpatient visit
about 329 CNY, all lognormal and depending on diagnosis, hospital tier and regional wage index.
The honest look-alikes that defeat simple rules are generated here too: chronic patients'
monthly refills, chemotherapy cycles every 2-3 weeks at the same hospital, long stays of the
very old, ordinary readmissions (about 10% within 15 days) and migrants treated in a second,
distant region for months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import (
    CHRONIC_DX,
    DIAGNOSES,
    DX_COST,
    DX_INDEX,
    DX_LOS,
    DX_VISIT,
    WAGE_INDEX,
    region_distance_km,
)
from riskml.synth.world import (
    BENEFIT,
    CHANNEL,
    LOOK,
    NO_DAY,
    RegionalSampler,
    World,
    ages_at,
    make_claims,
    submit_after,
)

AGE_BANDS = np.array([0, 18, 30, 45, 60, 75, 200])
_CENTERS = np.array([10, 24, 38, 52, 67, 82])
TIER_COST = np.array([0.65, 0.8, 1.0, 1.3])  # index: tier (0 = clinic / non-hospital)
INPATIENT_DAY_COST = 1_192.0
OUTPATIENT_VISIT_COST = 329.0


class DiagnosisSampler:
    """Draw diagnoses by age band and sex, for outpatient (``out_w``) or inpatient (``in_w``)."""

    def __init__(self, setting: str):
        items, groups, weights = [], [], []
        for band, center in enumerate(_CENTERS):
            for sex_i, sex in enumerate(("F", "M")):
                for i, d in enumerate(DIAGNOSES):
                    w = d.out_w if setting == "out" else d.in_w
                    ok = (d.sex in ("", sex)) and d.min_age <= center <= d.max_age
                    w = w * d.old_bias ** ((center - 45) / 25) if ok else 0.0
                    items.append(i)
                    groups.append(band * 2 + sex_i)
                    weights.append(w)
        self._sampler = RegionalSampler(
            np.array(items), np.array(groups), np.array(weights), len(_CENTERS) * 2
        )

    def sample(self, rng: np.random.Generator, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
        band = np.clip(np.searchsorted(AGE_BANDS, age, side="right") - 1, 0, len(_CENTERS) - 1)
        return self._sampler.sample(rng, band * 2 + (np.asarray(sex) == "M"))


def exposure(world: World) -> tuple[np.ndarray, np.ndarray]:
    """First and last+1 day of each person's insured life inside the window."""
    p = world.persons
    lo = np.maximum(p["enrolled"].to_numpy(), 0)
    hi = np.minimum(p["death"].to_numpy(), world.timeline.n_days)
    return lo, np.maximum(hi, lo)


def _events(
    rng: np.random.Generator, world: World, rate_per_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events per person over their exposure: (person index, day)."""
    lo, hi = exposure(world)
    years = (hi - lo) / 365.25
    k = rng.poisson(rate_per_year * years)
    pid = np.repeat(np.arange(len(lo)), k)
    day = lo[pid] + np.floor(rng.random(len(pid)) * (hi[pid] - lo[pid])).astype(np.int64)
    return pid, day


def _age_sex(world: World, pid: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = world.persons
    return ages_at(p["birth"].to_numpy()[pid], day), p["sex"].to_numpy()[pid]


def _channel(rng: np.random.Generator, n: int, direct: float, counter: float) -> np.ndarray:
    u = rng.random(n)
    return np.where(
        u < direct,
        CHANNEL["provider_direct"],
        np.where(u < direct + counter, CHANNEL["counter"], CHANNEL["online"]),
    )


def outpatient_claims(
    rng: np.random.Generator, world: World, chooser: ProviderChooser
) -> pd.DataFrame:
    """Outpatient visits: about 1.4 a year at 30, 4 a year at 75."""
    age0 = world.persons["age0"].to_numpy()
    rate = 0.9 + 0.04 * np.maximum(age0 - 20, 0)
    pid, day = _events(rng, world, rate)
    age, sex = _age_sex(world, pid, day)
    dx = DiagnosisSampler("out").sample(rng, age, sex)
    region = world.persons["region"].to_numpy()[pid]
    n = len(pid)
    at_hospital = rng.random(n) < 0.55
    prid = np.where(
        at_hospital,
        chooser.outpatient_hospital.sample(rng, region),
        chooser.clinic.sample(rng, region),
    )
    tier = world.providers["tier"].to_numpy()[prid]
    amount = (
        OUTPATIENT_VISIT_COST
        / 1.38
        * 0.8
        * DX_VISIT[dx]
        * TIER_COST[tier]
        * WAGE_INDEX[region] ** 0.5
        * rng.lognormal(0, 0.8, n)
    )
    channel = _channel(rng, n, 0.95, 0.03)
    return make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["outpatient"],
        prid=prid,
        region=region,
        start=day,
        end=day,
        sub_s=submit_after(rng, day, channel),
        dx=dx,
        amount=amount,
        channel=channel,
        doctor=chooser.doctor(rng, prid),
    )


INFUSION_DX = ("J06.9", "J20.9", "J18.9", "A09", "N39.0")


def infusion_series(rng: np.random.Generator, outpatient: pd.DataFrame) -> pd.DataFrame:
    """Outpatient intravenous courses: the same visit repeated on 1-3 following days.

    About 6% of visits for acute infections start a course; each repeat has the first visit's
    line items (copied by ``items``) and is settled directly the same day, an honest look-alike
    of duplicate claims. ``outpatient`` must carry ``key``; returns the repeats (without keys).
    """
    dx = outpatient["dx"].to_numpy()
    start = rng.random(len(outpatient)) < 0.06
    start &= np.isin(dx, [DX_INDEX[c] for c in INFUSION_DX])
    first = outpatient.loc[start]
    extra = rng.integers(1, 4, len(first))
    rep = first.loc[first.index.repeat(extra)].copy()
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    rep["start"] = rep["start"].to_numpy() + offset
    rep["end"] = rep["start"].to_numpy()
    rep["sub_s"] = rep["sub_s"].to_numpy() + offset * 86_400
    rep["copy_of"] = rep["key"].to_numpy()
    rep["look"] = np.int8(LOOK["infusion_series"])
    return rep.reset_index(drop=True)


def pharmacy_claims(
    rng: np.random.Generator, world: World, chooser: ProviderChooser
) -> pd.DataFrame:
    """Occasional pharmacy purchases (a week's supply of an acute-care drug)."""
    pid, day = _events(rng, world, np.full(len(world.persons), 0.6))
    age, sex = _age_sex(world, pid, day)
    dx = DiagnosisSampler("out").sample(rng, age, sex)
    region = world.persons["region"].to_numpy()[pid]
    n = len(pid)
    prid = chooser.pharmacy.sample(rng, region)
    channel = _channel(rng, n, 0.97, 0.02)
    return make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["pharmacy"],
        prid=prid,
        region=region,
        start=day,
        end=day,
        sub_s=submit_after(rng, day, channel),
        dx=dx,
        amount=0.0,
        channel=channel,
        supply=7,
    )


def stay_amount(
    rng: np.random.Generator, dx: np.ndarray, los: np.ndarray, tier: np.ndarray, region: np.ndarray
) -> np.ndarray:
    """Cost of a stay: per-day cost by diagnosis, tier and region, lognormal noise."""
    return np.asarray(
        INPATIENT_DAY_COST
        * DX_COST[dx]
        * TIER_COST[tier]
        * WAGE_INDEX[region] ** 0.5
        * los**0.9
        * rng.lognormal(-0.08, 0.4, len(dx))
        * 0.92
    )


def inpatient_stays(
    rng: np.random.Generator,
    world: World,
    chooser: ProviderChooser,
    pid: np.ndarray,
    day: np.ndarray,
    dx: np.ndarray,
    prid: np.ndarray | None = None,
    los: np.ndarray | None = None,
) -> pd.DataFrame:
    """Hospital stays for given admissions (provider and length drawn when not given)."""
    n = len(pid)
    region = world.persons["region"].to_numpy()[pid]
    if prid is None:
        prid = chooser.hospital.sample(rng, region)
    if los is None:
        age, _ = _age_sex(world, pid, day)
        los = np.maximum(
            1,
            np.round(
                rng.lognormal(np.log(DX_LOS[dx]) - 0.04, 0.45, n)
                * (1 + 0.004 * np.maximum(age - 50, 0))
            ),
        ).astype(np.int64)
    tier = world.providers["tier"].to_numpy()[prid]
    channel = _channel(rng, n, 0.86, 0.10)
    return make_claims(
        n,
        pid=pid,
        benefit=BENEFIT["inpatient"],
        prid=prid,
        region=region,
        start=day,
        end=day + los,
        sub_s=submit_after(rng, day + los, channel),
        dx=dx,
        amount=stay_amount(rng, dx, los, tier, region),
        channel=channel,
        doctor=chooser.doctor(rng, prid),
        los=los,
    )


def inpatient_claims(
    rng: np.random.Generator, world: World, chooser: ProviderChooser
) -> pd.DataFrame:
    """Admissions (about 0.1/yr under 45, 0.6/yr over 75), long elderly stays, readmissions."""
    age0 = world.persons["age0"].to_numpy()
    rate = np.select([age0 < 45, age0 < 60, age0 < 75], [0.085, 0.16, 0.38], 0.6)
    pid, day = _events(rng, world, rate)
    age, sex = _age_sex(world, pid, day)
    dx = DiagnosisSampler("in").sample(rng, age, sex)
    stays = inpatient_stays(rng, world, chooser, pid, day, dx)
    # long stays of the very old (honest look-alike of bed-blocking)
    long = (age >= 75) & (rng.random(len(pid)) < 0.12)
    if long.any():
        los = stays["los"].to_numpy()
        new_los = np.where(long, np.round(los * rng.uniform(2.2, 3.5, len(los))), los).astype(
            np.int64
        )
        scale = new_los / np.maximum(los, 1)
        stays = stays.assign(
            los=new_los,
            end=stays["start"].to_numpy() + new_los,
            amount=stays["amount"].to_numpy() * scale**0.8,
            sub_s=stays["sub_s"].to_numpy() + (new_los - los) * 86_400,
            look=np.where(long, LOOK["long_stay"], stays["look"].to_numpy()),
        )
    # ordinary readmissions: 8% within 1-15 days, mostly the same hospital
    re = rng.random(len(stays)) < 0.08
    base = stays.loc[re]
    n = len(base)
    gap = rng.integers(1, 16, n)
    same_dx = rng.random(n) < 0.6
    r_day = base["end"].to_numpy() + gap
    r_pid = base["pid"].to_numpy()
    r_age, r_sex = _age_sex(world, r_pid, r_day)
    r_dx = np.where(
        same_dx, base["dx"].to_numpy(), DiagnosisSampler("in").sample(rng, r_age, r_sex)
    )
    same_prov = rng.random(n) < 0.7
    r_prid = np.where(
        same_prov, base["prid"].to_numpy(), chooser.hospital.sample(rng, base["region"].to_numpy())
    )
    readm = inpatient_stays(rng, world, chooser, r_pid, r_day, r_dx, prid=r_prid)
    readm["look"] = np.where(same_dx & same_prov, LOOK["readmission"], -1).astype(np.int8)
    out = pd.concat([stays, readm], ignore_index=True)
    death = world.persons["death"].to_numpy()[out["pid"].to_numpy()]
    return out.loc[out["end"].to_numpy() < np.minimum(death, NO_DAY)].reset_index(drop=True)


def chronic_claims(
    rng: np.random.Generator, world: World, chooser: ProviderChooser
) -> tuple[pd.DataFrame, np.ndarray]:
    """Chronic patients' monthly refills at their usual pharmacy (30 days' supply each).

    Returns the claims and each person's chronic diagnosis (-1 for none).
    """
    p = world.persons
    n = len(p)
    age0 = p["age0"].to_numpy()
    prob = np.select([age0 < 40, age0 < 60], [0.0, 0.10], 0.28)
    chronic = rng.random(n) < prob
    dx_pool = np.array([DX_INDEX[c] for c in CHRONIC_DX])
    person_dx = np.where(
        chronic, dx_pool[rng.choice(len(dx_pool), size=n, p=[0.4, 0.3, 0.1, 0.15, 0.05])], -1
    )
    refills = chronic & (rng.random(n) < 0.6)
    lo, hi = exposure(world)
    who = np.nonzero(refills & (hi > lo))[0]
    span = hi[who] - lo[who]
    k = np.ceil(span / 30.0).astype(np.int64)
    pid = np.repeat(who, k)
    rank = np.arange(len(pid)) - np.repeat(np.cumsum(k) - k, k)
    first = lo[who] + rng.integers(0, 30, len(who))
    day = np.repeat(first, k) + rank * 30 + rng.integers(-3, 2, len(pid))
    keep = day < hi[pid]
    pid, day = pid[keep], day[keep]
    usual = chooser.pharmacy.sample(rng, p["region"].to_numpy())
    other = rng.random(len(pid)) < 0.1
    region = p["region"].to_numpy()[pid]
    prid = np.where(other, chooser.pharmacy.sample(rng, region), usual[pid])
    channel = np.full(len(pid), CHANNEL["provider_direct"])
    claims = make_claims(
        len(pid),
        pid=pid,
        benefit=BENEFIT["pharmacy"],
        prid=prid,
        region=region,
        start=day,
        end=day,
        sub_s=submit_after(rng, day, channel),
        dx=person_dx[pid],
        amount=0.0,
        channel=channel,
        look=LOOK["chronic"],
        supply=30,
    )
    return claims, person_dx


def chemo_claims(rng: np.random.Generator, world: World, chooser: ProviderChooser) -> pd.DataFrame:
    """Cancer patients' chemotherapy: 4-8 short stays every 14-21 days at one tier-3 hospital."""
    p = world.persons
    n = len(p)
    age0 = p["age0"].to_numpy()
    lo, hi = exposure(world)
    cancer = (age0 >= 40) & (rng.random(n) < 0.006 * (1 + (age0 >= 60))) & (hi - lo > 120)
    who = np.nonzero(cancer)[0]
    female = p["sex"].to_numpy()[who] == "F"
    dx = np.where(
        female & (rng.random(len(who)) < 0.5),
        DX_INDEX["C50.9"],
        np.where(rng.random(len(who)) < 0.6, DX_INDEX["C34.9"], DX_INDEX["C18.9"]),
    )
    cycles = rng.integers(4, 9, len(who))
    pid = np.repeat(who, cycles)
    rank = np.arange(len(pid)) - np.repeat(np.cumsum(cycles) - cycles, cycles)
    first = lo[who] + np.floor(rng.random(len(who)) * (hi[who] - lo[who] - 60)).astype(np.int64)
    gaps = np.where(rank == 0, 0, rng.integers(14, 22, len(pid)))
    cum = np.cumsum(gaps)
    group_start = np.cumsum(cycles) - cycles
    day = np.repeat(first, cycles) + cum - np.repeat(cum[group_start], cycles)
    hospital = chooser.tier3.sample(rng, p["region"].to_numpy()[who])
    los = rng.integers(2, 5, len(pid))
    stays = inpatient_stays(
        rng,
        world,
        chooser,
        pid,
        day,
        np.repeat(dx, cycles),
        prid=np.repeat(hospital, cycles),
        los=los,
    )
    stays["look"] = LOOK["chemo"]
    keep = stays["end"].to_numpy() < hi[pid]
    return stays.loc[keep].reset_index(drop=True)


def apply_migration(
    rng: np.random.Generator, world: World, chooser: ProviderChooser, claims: pd.DataFrame
) -> pd.DataFrame:
    """Migrant workers are treated in a second, distant region for 3-12 months (honest)."""
    p = world.persons
    n = len(p)
    age0 = p["age0"].to_numpy()
    migrant = (age0 >= 20) & (age0 < 55) & (rng.random(n) < 0.06)
    dist = region_distance_km()
    home = p["region"].to_numpy()
    far = dist > 500
    # a random far region per person
    choice = rng.random((n, len(dist))) * far[home]
    second = np.argmax(choice, axis=1)
    length = rng.integers(90, 360, n)
    begin = rng.integers(0, max(1, world.timeline.n_days - 90), n)
    pid = claims["pid"].to_numpy()
    start = claims["start"].to_numpy()
    medical = claims["benefit"].isin(
        [BENEFIT["outpatient"], BENEFIT["pharmacy"], BENEFIT["inpatient"]]
    )
    away = (
        medical.to_numpy()
        & migrant[pid]
        & (start >= begin[pid])
        & (start < begin[pid] + length[pid])
        & (claims["look"].to_numpy() != LOOK["chemo"])
    )
    if not away.any():
        return claims
    out = claims.copy()
    reg2 = second[pid[away]]
    ben = out["benefit"].to_numpy()[away]
    prid = np.where(
        ben == BENEFIT["inpatient"],
        chooser.hospital.sample(rng, reg2),
        np.where(
            ben == BENEFIT["pharmacy"],
            chooser.pharmacy.sample(rng, reg2),
            chooser.clinic.sample(rng, reg2),
        ),
    )
    out.loc[away, "region"] = reg2
    out.loc[away, "prid"] = prid
    out.loc[away, "doctor"] = chooser.doctor(rng, prid)
    out.loc[away, "look"] = np.where(
        out.loc[away, "look"].to_numpy() < 0, LOOK["migrant"], out.loc[away, "look"].to_numpy()
    )
    # out-of-region care is more often paid first and reimbursed at the counter
    ch = np.where(rng.random(int(away.sum())) < 0.3, CHANNEL["counter"], out.loc[away, "channel"])
    out.loc[away, "channel"] = ch.astype(np.int8)
    return out
