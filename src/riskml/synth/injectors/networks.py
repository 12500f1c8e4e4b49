"""Injectors of organised fraud: drug reselling / doctor shopping and collusion rings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.config import TypologyKnobs
from riskml.synth.injectors._common import mark, n_units, onset_day, pick, with_candidates
from riskml.synth.medical import OUTPATIENT_VISIT_COST, inpatient_stays
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import DX_INDEX, DX_VISIT, ITEM_INDEX, WAGE_INDEX
from riskml.synth.world import (
    BENEFIT,
    CHANNEL,
    LOOK,
    MODE_RESELL,
    NO_DAY,
    World,
    add_claims,
    ages_at,
    make_claims,
    submit_after,
)

# high-value drug -> the diagnosis it is prescribed for
_RESOLD = (
    ("XL04ADT001", "N18.3"),
    ("XA10BJS001", "E11.9"),
    ("XA10AEG001", "E11.9"),
    ("XR03AKS001", "J44.9"),
)


def drug_reselling(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """High-value drugs collected from many pharmacies and resold (DOMAIN M7/M10, 回流药).

    Unit: a chronic patient. From the onset they fill 8-20 prescriptions (more with intensity)
    of one high-value drug every 4-12 days at 3-6 pharmacies or hospital clinics, each for 30-90
    days' supply, so supply far exceeds the days elapsed; the resold packs come back, so their
    traceability codes repeat. The honest look-alike: chronic patients' monthly refills.
    """
    name = "drug_reselling"
    cl = world.claims
    tl = world.timeline
    chronic = np.unique(cl.loc[cl["look"] == LOOK["chronic"], "pid"].to_numpy())
    alive = world.persons["death"].to_numpy()[chronic] == NO_DAY
    pool = chronic[alive]
    world = with_candidates(world, name, len(pool))
    units = pick(rng, pool, n_units(len(pool), knobs))
    if not len(units):
        return world
    n_u = len(units)
    start = onset_day(world, knobs)
    drug_choice = rng.integers(0, len(_RESOLD), n_u)
    drug = np.array([ITEM_INDEX[_RESOLD[i][0]] for i in drug_choice])
    dx = np.array([DX_INDEX[_RESOLD[i][1]] for i in drug_choice])
    count = np.maximum(4, np.round(rng.integers(8, 21, n_u) * knobs.intensity)).astype(int)
    pid = np.repeat(units, count)
    unit = np.repeat(np.arange(n_u), count)
    rank = np.arange(len(pid)) - np.repeat(np.cumsum(count) - count, count)
    gaps = np.where(rank == 0, 0, rng.integers(4, 13, len(pid)) * (1 + knobs.camouflage)).astype(
        int
    )
    cum = np.cumsum(gaps)
    first = rng.integers(start, max(start + 1, tl.n_days - 120), n_u)
    day = np.repeat(first, count) + cum - np.repeat(cum[np.cumsum(count) - count], count)
    region = world.persons["region"].to_numpy()[pid]
    # each unit's shops: 3-6 pharmacies / hospital clinics of its region
    n_shops = rng.integers(3, 7, n_u)
    shop_slot = rng.integers(0, 1_000_000, len(pid)) % np.repeat(n_shops, count)
    shops = np.stack(
        [chooser.pharmacy.sample(rng, world.persons["region"].to_numpy()[units]) for _ in range(3)]
        + [
            chooser.outpatient_hospital.sample(rng, world.persons["region"].to_numpy()[units])
            for _ in range(3)
        ],
        axis=1,
    )
    order = rng.permuted(np.tile(np.arange(6), (n_u, 1)), axis=1)
    prid = shops[unit, order[unit, shop_slot]]
    is_pharm = world.providers["ptype"].to_numpy()[prid] == "pharmacy"
    channel = np.full(len(pid), CHANNEL["provider_direct"])
    new = make_claims(
        len(pid),
        pid=pid,
        benefit=np.where(is_pharm, BENEFIT["pharmacy"], BENEFIT["outpatient"]),
        prid=prid,
        region=region,
        start=day,
        end=day,
        sub_s=submit_after(rng, day, channel),
        dx=np.repeat(dx, count),
        amount=0.0,
        channel=channel,
        doctor=np.where(is_pharm, -1, chooser.doctor(rng, prid)),
        mode=MODE_RESELL,
        drug=np.repeat(drug, count),
        supply=30 * rng.integers(1, 4, len(pid)),
    )
    new = new.loc[new["start"].to_numpy() < tl.n_days - 1]
    new = mark(new, name, "fraud", unit[new.index.to_numpy()], 0.7)
    return replace(world, claims=add_claims(world, new))


def collusion_ring(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """A clinic or small hospital, one doctor and recruited patients (DOMAIN M11, 医患合谋).

    Unit: a ring around a clinic or tier-1 hospital. 10-30 members (more with intensity) come
    in 6-14 bursts every 15-45 days: most members on the same day or the next, the same doctor,
    a few templated diagnoses, inflated charges (outpatient) or short co-admissions (hospital).
    """
    name = "collusion_ring"
    pr = world.providers
    p = world.persons
    tl = world.timeline
    eligible = (pr["ptype"] == "clinic") | ((pr["ptype"] == "hospital") & (pr["tier"] == 1))
    pool = pr.loc[eligible, "prid"].to_numpy()
    world = with_candidates(world, name, len(pool))
    rings = pick(rng, pool, n_units(len(pool), knobs))
    if not len(rings):
        return world
    start = onset_day(world, knobs)
    age = ages_at(p["birth"].to_numpy(), start)
    templates = np.array(
        [DX_INDEX[c] for c in ("M54.5", "J20.9", "K29.7", "I10", "E11.9", "A09", "N39.0")]
    )
    parts = []
    for j, h in enumerate(rings):  # loop over a handful of rings
        region = int(pr.loc[h, "region"])
        hospital = pr.loc[h, "ptype"] == "hospital"
        people = np.nonzero(
            (p["region"].to_numpy() == region)
            & (age >= 18)
            & (age <= 75)
            & (p["death"].to_numpy() == NO_DAY)
        )[0]
        size = int(min(len(people) * 0.3, max(6, rng.integers(10, 31) * knobs.intensity**0.5)))
        members = pick(rng, people, size)
        if not len(members):
            continue
        doctor = chooser.doctor(rng, np.array([h]))[0]
        dx_set = rng.choice(templates, size=3, replace=False)
        n_bursts = max(2, round(rng.integers(6, 15) * knobs.intensity))
        burst = start + np.cumsum(rng.integers(15, 46, n_bursts))
        burst = burst[burst < tl.n_days - 30]
        for d in burst:
            come = members[rng.random(len(members)) < rng.uniform(0.6, 0.9)]
            if not len(come):
                continue
            day = d + rng.integers(0, 2, len(come))
            dx = dx_set[rng.integers(0, 3, len(come))]
            if hospital:
                claims = inpatient_stays(
                    rng,
                    world,
                    chooser,
                    come,
                    day,
                    dx,
                    prid=np.full(len(come), h),
                    los=rng.integers(3, 8, len(come)),
                )
            else:
                n = len(come)
                channel = np.full(n, CHANNEL["provider_direct"])
                reg = np.full(n, region)
                claims = make_claims(
                    n,
                    pid=come,
                    benefit=BENEFIT["outpatient"],
                    prid=h,
                    region=reg,
                    start=day,
                    end=day,
                    sub_s=submit_after(rng, day, channel),
                    dx=dx,
                    amount=OUTPATIENT_VISIT_COST
                    * DX_VISIT[dx]
                    * WAGE_INDEX[reg] ** 0.5
                    * rng.lognormal(0, 0.4, n)
                    * (2.8 - knobs.camouflage),
                    channel=channel,
                )
            claims["doctor"] = doctor
            parts.append(mark(claims, name, "fraud", j, 0.8))
    if not parts:
        return world
    new = pd.concat(parts, ignore_index=True)
    return replace(world, claims=add_claims(world, new))
