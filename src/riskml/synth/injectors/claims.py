"""Claim-level injectors: duplicate claims and identity impersonation / card lending."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.config import TypologyKnobs
from riskml.synth.injectors._common import honest, mark, n_units, onset_day, pick, with_candidates
from riskml.synth.medical import OUTPATIENT_VISIT_COST, DiagnosisSampler, inpatient_stays
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import DX_INDEX, WAGE_INDEX, region_distance_km
from riskml.synth.world import (
    BENEFIT,
    CHANNEL,
    NO_DAY,
    World,
    add_claims,
    ages_at,
    make_claims,
    submit_after,
)

_MEDICAL = [BENEFIT["outpatient"], BENEFIT["pharmacy"], BENEFIT["inpatient"]]
FAR_KM = 800.0


def duplicate_claim(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """The same service claimed twice with small variations (DOMAIN M6/M12, 重复报销).

    Unit: a person. One to three (more with intensity) of their medical claims are submitted
    again days or weeks later, often at the counter after direct settlement, with the same line
    items (a price nudged by a few percent) and, with camouflage, a service date moved a day.
    """
    name = "duplicate_claim"
    cl = world.claims
    ok = honest(world) & cl["benefit"].isin(_MEDICAL).to_numpy()
    ok &= cl["start"].to_numpy() >= onset_day(world, knobs)
    pool = np.unique(cl["pid"].to_numpy()[ok])
    world = with_candidates(world, name, len(pool))
    units = pick(rng, pool, n_units(len(pool), knobs))
    if not len(units):
        return world
    cand = cl.loc[ok & cl["pid"].isin(units).to_numpy()]
    cand = cand.assign(_r=rng.random(len(cand))).sort_values(["pid", "_r"])
    per = np.maximum(1, np.round(rng.integers(1, 4, len(units)) * knobs.intensity)).astype(int)
    rank = cand.groupby("pid").cumcount().to_numpy()
    chosen = cand.loc[rank < per[np.searchsorted(units, cand["pid"].to_numpy())]].drop(columns="_r")
    n = len(chosen)
    new = chosen.copy()
    new["copy_of"] = chosen["key"].to_numpy()
    shift = np.where(rng.random(n) < 0.4 * knobs.camouflage + 0.1, rng.choice([-1, 1], n), 0)
    new["start"] = chosen["start"].to_numpy() + shift
    new["end"] = np.maximum(chosen["end"].to_numpy() + shift, new["start"].to_numpy())
    # re-submitted by hand (at the counter or online) after the original was settled
    new["channel"] = np.where(rng.random(n) < 0.65, CHANNEL["counter"], CHANNEL["online"]).astype(
        np.int8
    )
    new["sub_s"] = (
        chosen["sub_s"].to_numpy() + rng.integers(3, 40, n) * 86_400 + rng.integers(-3600, 3600, n)
    )
    new = mark(new, name, "fraud", np.searchsorted(units, chosen["pid"].to_numpy()), 1.0)
    return replace(world, claims=add_claims(world, new))


def identity_impersonation(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Someone else's card used for care (DOMAIN M9, 冒名就医 / 卡外借).

    Unit: a card holder. Three footprints: the card of a dead person used after the death
    (a quarter of units); care implausible for the holder's sex or age (a delivery on a man's
    card, prostate care on a woman's, senile cataract at 30); and the card used in a region
    800+ km away on a day the holder was treated at home.
    """
    name = "identity_impersonation"
    p = world.persons
    tl = world.timeline
    cl = world.claims
    start = onset_day(world, knobs)
    world = with_candidates(world, name, len(p))
    k = n_units(len(p), knobs)
    if k == 0:
        return world
    parts: list[pd.DataFrame] = []
    death = p["death"].to_numpy()
    touched = np.zeros(len(p), dtype=bool)
    touched[cl.loc[cl["typ"] >= 0, "pid"].to_numpy()] = True
    # 1. the card of a dead person
    dead = np.nonzero((death >= start) & (death < tl.n_days - 60) & ~touched)[0]
    u_dead = pick(rng, dead, max(1, k // 4))
    if len(u_dead):
        per = rng.integers(2, 6, len(u_dead))
        pid = np.repeat(u_dead, per)
        room = np.maximum(tl.n_days - 5 - death[pid] - 5, 1)
        day = (
            death[pid] + 5 + np.floor(rng.random(len(pid)) * np.minimum(room, 150)).astype(np.int64)
        )
        parts.append(_visits(rng, world, chooser, pid, day, p["region"].to_numpy()[pid], None))
    # 2. care implausible for the holder's sex or age
    age = ages_at(p["birth"].to_numpy(), start)
    living = (death == NO_DAY) & ~touched
    pool = np.nonzero(living & (age >= 20) & (age <= 60))[0]
    u_impl = pick(rng, pool, max(1, int(k * 0.35)))
    if len(u_impl):
        n = len(u_impl)
        day = rng.integers(start, tl.n_days - 30, n)
        male = p["sex"].to_numpy()[u_impl] == "M"
        young = age[u_impl] < 38
        cataract = young & (rng.random(n) < 0.35)
        region = p["region"].to_numpy()[u_impl]
        delivery = male & ~cataract
        if delivery.any():
            dx = np.where(rng.random(int(delivery.sum())) < 0.6, DX_INDEX["O80"], DX_INDEX["O82"])
            parts.append(inpatient_stays(rng, world, chooser, u_impl[delivery], day[delivery], dx))
        rest = ~delivery
        dx = np.where(cataract[rest], DX_INDEX["H25.9"], DX_INDEX["N40"])
        parts.append(_visits(rng, world, chooser, u_impl[rest], day[rest], region[rest], dx))
    # 3. same day, distant region
    dist = region_distance_km()
    ok = honest(world) & cl["benefit"].isin([BENEFIT["outpatient"], BENEFIT["pharmacy"]]).to_numpy()
    ok &= (cl["start"].to_numpy() >= start) & ~touched[cl["pid"].to_numpy()]
    ok &= cl["sub_s"].to_numpy() < (tl.n_days - 3) * 86_400  # the home claim stays in the data
    pool = np.unique(cl["pid"].to_numpy()[ok])
    u_far = pick(rng, pool, max(1, k - len(u_dead) - len(u_impl)))
    if len(u_far):
        cand = cl.loc[ok & cl["pid"].isin(u_far).to_numpy()]
        cand = cand.assign(_r=rng.random(len(cand))).sort_values(["pid", "_r"])
        per = rng.integers(1, 4, len(u_far))
        rank = cand.groupby("pid").cumcount().to_numpy()
        src = cand.loc[rank < per[np.searchsorted(u_far, cand["pid"].to_numpy())]]
        home = src["region"].to_numpy()
        far = dist[home] >= FAR_KM
        choice = rng.random((len(src), len(dist))) * far
        other = np.argmax(choice, axis=1)
        parts.append(
            _visits(
                rng, world, chooser, src["pid"].to_numpy(), src["start"].to_numpy(), other, None
            )
        )
    new = pd.concat(parts, ignore_index=True)
    unit = np.searchsorted(np.unique(new["pid"].to_numpy()), new["pid"].to_numpy())
    new = mark(new, name, "fraud", unit, 1.0)
    return replace(world, claims=add_claims(world, new))


def _visits(
    rng: np.random.Generator,
    world: World,
    chooser: ProviderChooser,
    pid: np.ndarray,
    day: np.ndarray,
    region: np.ndarray,
    dx: np.ndarray | None,
) -> pd.DataFrame:
    """Outpatient visits (or pharmacy purchases) at providers of the given regions."""
    n = len(pid)
    p = world.persons
    if dx is None:
        age = ages_at(p["birth"].to_numpy()[pid], day)
        dx = DiagnosisSampler("out").sample(rng, age, p["sex"].to_numpy()[pid])
    pharmacy = rng.random(n) < 0.3
    prid = np.where(
        pharmacy,
        chooser.pharmacy.sample(rng, region),
        chooser.outpatient_hospital.sample(rng, region),
    )
    channel = np.where(rng.random(n) < 0.8, CHANNEL["provider_direct"], CHANNEL["counter"])
    amount = OUTPATIENT_VISIT_COST * WAGE_INDEX[region] ** 0.5 * rng.lognormal(0.2, 0.7, n)
    return make_claims(
        n,
        pid=pid,
        benefit=np.where(pharmacy, BENEFIT["pharmacy"], BENEFIT["outpatient"]),
        prid=prid,
        region=region,
        start=day,
        end=day,
        sub_s=submit_after(rng, day, channel),
        dx=dx,
        amount=amount,
        channel=channel,
        doctor=np.where(pharmacy, -1, chooser.doctor(rng, prid)),
        supply=np.where(pharmacy, 7, 0),
    )
