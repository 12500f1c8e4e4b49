"""Hospital injectors: phantom stays, split stays, upcoding, unbundling (DOMAIN M1-M6)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.config import TypologyKnobs
from riskml.synth.injectors._common import honest, mark, n_units, onset_day, pick, with_candidates
from riskml.synth.medical import inpatient_stays, stay_amount
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import DX_INDEX, UPCODE_MAP
from riskml.synth.world import BENEFIT, MODE_SPARSE, NO_DAY, World, add_claims, ages_at

_MANAGEABLE = np.array([DX_INDEX[c] for c in ("M54.5", "I10", "E11.9", "J44.9", "I25.1", "K29.7")])


def _gaming_weights(rng: np.random.Generator, world: World, prid: np.ndarray) -> np.ndarray:
    """Abuse concentrates in some hospitals: 15% of hospitals carry 5x the weight."""
    n = len(world.providers)
    gaming = rng.random(n) < 0.15
    return np.where(gaming[prid], 5.0, 1.0)


def phantom_hospitalization(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Recruited 'patients' admitted in batches to small private hospitals (DOMAIN M1/M2).

    Unit: a small private hospital (tier 1). Every 7-14 days from the onset it admits a batch
    (60-130% of its beds, more with intensity) of older recruits from its region for 12-25
    days, with outpatient-manageable diagnoses, bed days and hardly any other items (挂床), so
    its census exceeds its licensed beds.
    """
    name = "phantom_hospitalization"
    pr = world.providers
    small = (pr["ptype"] == "hospital") & (pr["tier"] == 1) & pr["private"]
    pool = pr.loc[small, "prid"].to_numpy()
    world = with_candidates(world, name, len(pool))
    units = pick(rng, pool, n_units(len(pool), knobs))
    if not len(units):
        return world
    p = world.persons
    tl = world.timeline
    start = onset_day(world, knobs)
    age = ages_at(p["birth"].to_numpy(), start)
    parts = []
    for j, h in enumerate(units):  # loop over a handful of hospitals
        region = int(pr.loc[h, "region"])
        beds = int(pr.loc[h, "beds"])
        recruits = np.nonzero(
            (p["region"].to_numpy() == region) & (age >= 40) & (p["death"].to_numpy() == NO_DAY)
        )[0]
        if not len(recruits):
            continue
        n_batches = max(2, round(rng.integers(6, 15) * knobs.intensity))
        batch_day = start + np.cumsum(rng.integers(7, 15, n_batches))
        batch_day = batch_day[batch_day < tl.n_days - 40]
        for d in batch_day:
            size = int(
                min(len(recruits) * 0.8, max(8, beds * rng.uniform(0.6, 1.3) * knobs.intensity))
            )
            who = pick(rng, recruits, size)
            day = d + rng.integers(0, 3, len(who))
            los = rng.integers(12, 26, len(who))
            dx = _MANAGEABLE[rng.integers(0, len(_MANAGEABLE), len(who))]
            stays = inpatient_stays(
                rng, world, chooser, who, day, dx, prid=np.full(len(who), h), los=los
            )
            docs = chooser.doctor(rng, np.full(2, h))
            stays["doctor"] = docs[rng.integers(0, 2, len(who))]
            stays["mode"] = MODE_SPARSE
            parts.append(mark(stays, name, "fraud", j, 1.0))
    if not parts:
        return world
    new = pd.concat(parts, ignore_index=True)
    return replace(world, claims=add_claims(world, new))


def split_hospitalization(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """One long stay billed as two to four admissions 1-14 days apart (DOMAIN M3, 分解住院).

    Unit: an honest stay of 5+ days. It is cut into parts at the same hospital with the same
    diagnosis; each readmission is billed as a new case (the improper part is the extra case
    payment). Camouflage widens the gaps.
    """
    name = "split_hospitalization"
    cl = world.claims
    ok = (
        honest(world)
        & (cl["benefit"].to_numpy() == BENEFIT["inpatient"])
        & (cl["los"].to_numpy() >= 5)
        & (cl["start"].to_numpy() >= onset_day(world, knobs))
        & (cl["end"].to_numpy() < world.timeline.n_days - 60)
    )
    pool = np.nonzero(ok)[0]
    world = with_candidates(world, name, len(pool))
    rows = pick(
        rng,
        pool,
        n_units(len(pool), knobs),
        _gaming_weights(rng, world, cl["prid"].to_numpy()[pool]),
    )
    if not len(rows):
        return world
    base = cl.iloc[rows]
    n = len(rows)
    n_parts = rng.choice([2, 3, 4], size=n, p=[0.5, 0.35, 0.15])
    los = base["los"].to_numpy()
    total = np.round(los * (1 + 0.15 * knobs.intensity)).astype(np.int64)
    part_los = np.maximum(2, total // n_parts)
    max_gap = 4 + round(10 * knobs.camouflage)
    claims = cl.copy()
    # the first part keeps the original claim, shortened
    idx = base.index.to_numpy()
    claims.loc[idx, "los"] = part_los
    claims.loc[idx, "locked"] = 1
    claims.loc[idx, "end"] = base["start"].to_numpy() + part_los
    claims.loc[idx, "amount"] = base["amount"].to_numpy() * (part_los / np.maximum(los, 1)) ** 0.9
    claims.loc[idx, "sub_s"] = base["sub_s"].to_numpy() - (los - part_los) * 86_400
    world = replace(world, claims=claims)
    new_parts = []
    prev_end = base["start"].to_numpy() + part_los
    tier = world.providers["tier"].to_numpy()[base["prid"].to_numpy()]
    for part in range(1, 4):
        has = n_parts > part
        gap = rng.integers(1, max_gap + 1, n)
        day = prev_end + gap
        stays = inpatient_stays(
            rng,
            world,
            chooser,
            base["pid"].to_numpy()[has],
            day[has],
            base["dx"].to_numpy()[has],
            prid=base["prid"].to_numpy()[has],
            los=part_los[has],
        )
        stays["doctor"] = base["doctor"].to_numpy()[has]
        stays["amount"] = (
            stay_amount(
                rng, stays["dx"].to_numpy(), part_los[has], tier[has], stays["region"].to_numpy()
            )
            * 1.2
        )
        new_parts.append(mark(stays, name, "abuse", np.nonzero(has)[0], 0.6))
        prev_end = day + part_los
    new = pd.concat(new_parts, ignore_index=True)
    return replace(world, claims=add_claims(world, new))


def upcoding(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """A heavier diagnosis billed than the one treated (DOMAIN M4, 高套分组).

    Unit: an honest stay whose diagnosis has a heavier neighbour (pneumonia -> respiratory
    failure, angina -> infarction ...). The claim carries the heavy code and a higher amount
    while its line items still treat the light one.
    """
    name = "upcoding"
    cl = world.claims
    light = np.array([DX_INDEX[c] for c in UPCODE_MAP])
    heavy = np.array([DX_INDEX[UPCODE_MAP[c]] for c in UPCODE_MAP])
    stays = (
        honest(world)
        & (cl["benefit"].to_numpy() == BENEFIT["inpatient"])
        & (cl["start"].to_numpy() >= onset_day(world, knobs))
    )
    # candidates are all stays; only those with a heavier neighbour can be upcoded
    world = with_candidates(world, name, int(stays.sum()))
    pool = np.nonzero(stays & np.isin(cl["dx"].to_numpy(), light))[0]
    rows = pick(
        rng,
        pool,
        n_units(int(stays.sum()), knobs),
        _gaming_weights(rng, world, cl["prid"].to_numpy()[pool]),
    )
    if not len(rows):
        return world
    claims = cl.copy()
    idx = cl.index.to_numpy()[rows]
    dx = cl["dx"].to_numpy()[rows]
    new_dx = pd.Series(heavy, index=light).reindex(dx).to_numpy()
    mult = (1.3 + 0.5 * knobs.intensity * rng.random(len(rows))) * (1 - 0.2 * knobs.camouflage)
    mult = np.maximum(mult, 1.15)
    claims.loc[idx, "dx"] = new_dx
    claims.loc[idx, "amount"] = cl["amount"].to_numpy()[rows] * mult
    marked = mark(claims.loc[idx], name, "abuse", np.arange(len(rows)), 1 - 1 / mult)
    claims.loc[idx, marked.columns] = marked
    return replace(world, claims=claims)


def unbundling(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Package components billed on top of the package, lines billed twice (DOMAIN M5/M6).

    Unit: an honest hospital claim (stay or hospital outpatient visit). Components of a priced
    package are added as separate lines; with intensity, a line is also duplicated.
    """
    name = "unbundling"
    cl = world.claims
    ptype = world.providers["ptype"].to_numpy()
    at_hospital = (cl["prid"].to_numpy() >= 0) & (
        ptype[np.maximum(cl["prid"].to_numpy(), 0)] == "hospital"
    )
    ok = (
        honest(world)
        & at_hospital
        & cl["benefit"].isin([BENEFIT["inpatient"], BENEFIT["outpatient"]]).to_numpy()
        & (cl["start"].to_numpy() >= onset_day(world, knobs))
    )
    pool = np.nonzero(ok)[0]
    world = with_candidates(world, name, len(pool))
    rows = pick(
        rng,
        pool,
        n_units(len(pool), knobs),
        _gaming_weights(rng, world, cl["prid"].to_numpy()[pool]),
    )
    if not len(rows):
        return world
    claims = cl.copy()
    idx = cl.index.to_numpy()[rows]
    both = rng.random(len(rows)) < 0.5 * knobs.intensity * (1 - 0.5 * knobs.camouflage)
    claims.loc[idx, "unbundle"] = np.where(both, 2, 1).astype(np.int8)
    marked = mark(claims.loc[idx], name, "abuse", np.arange(len(rows)), 0.0)
    claims.loc[idx, marked.columns] = marked
    return replace(world, claims=claims)
