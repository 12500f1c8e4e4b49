"""Employment injectors: shell employers for maternity allowance, fabricated work injuries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.cash import delivery_and_allowance, work_injury_claims
from riskml.synth.config import TypologyKnobs
from riskml.synth.injectors._common import mark, n_units, onset_day, pick, with_candidates
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import REGION_WEIGHTS, WAGE_INDEX
from riskml.synth.world import BENEFIT, NO_DAY, World, add_claims, ages_at


def fictitious_employment(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Shell employers that enrol pregnant women for the maternity allowance (DOMAIN P3/P4).

    Unit: a shell employer, registered shortly before it hires a burst of 10-30 members (about
    80% women aged 22-40) at a contribution base of 2-3.5x the local average. Most of the women
    give birth 2-3 months after joining and claim the allowance on that base; then the firm stops
    contributing. Most members were not enrolled before (enrolment 2-3 months before birth).
    """
    name = "fictitious_employment"
    tl = world.timeline
    emp = world.employers
    p = world.persons
    world = with_candidates(world, name, len(emp))
    k = n_units(len(emp), knobs)
    if k == 0:
        return world
    start_m = max(tl.month_of(np.array([onset_day(world, knobs)]))[0], 0)
    last_m = max(start_m + 1, tl.months - 10)
    hire_m = rng.integers(start_m, last_m, k)
    region = rng.choice(len(REGION_WEIGHTS), size=k, p=REGION_WEIGHTS)
    hire_day = tl.month_start(hire_m)
    new_eid = np.arange(len(emp), len(emp) + k, dtype=np.int64)
    shells = pd.DataFrame(
        {
            "eid": new_eid,
            "region": region.astype(np.int64),
            "industry": rng.choice(np.array(["L", "M", "G", "F"]), size=k),
            "size_band": np.where(rng.random(k) < 0.6, "micro", "small"),
            "registered": hire_day - rng.integers(20, 150, k),
            "weight": 0.0,
            "shell": True,
        }
    )
    employers = pd.concat([emp, shells], ignore_index=True)
    # members: women 22-40 of the region (80%), others of working age, not dead by the end
    size = np.maximum(5, np.round(rng.integers(10, 31, k) * knobs.intensity**0.5)).astype(int)
    age_now = ages_at(p["birth"].to_numpy(), 0)
    female = p["sex"].to_numpy() == "F"
    alive = p["death"].to_numpy() == NO_DAY
    taken = np.zeros(len(p), dtype=bool)
    # persons already drawing injected benefits are left alone
    touched = world.claims.loc[world.claims["typ"] >= 0, "pid"].to_numpy()
    taken[touched] = True
    members_pid, members_shell, members_woman = [], [], []
    for s in range(k):  # loop over shells (tens), not over claims
        in_region = (p["region"].to_numpy() == region[s]) & alive & ~taken
        women = np.nonzero(in_region & female & (age_now >= 22) & (age_now <= 38))[0]
        others = np.nonzero(in_region & (age_now >= 20) & (age_now < 50) & ~female)[0]
        n_w = round(size[s] * 0.8)
        w = pick(rng, women, n_w)
        o = pick(rng, others, size[s] - len(w))
        taken[w] = True
        taken[o] = True
        members_pid += [w, o]
        members_shell += [np.full(len(w), s), np.full(len(o), s)]
        members_woman += [np.ones(len(w), bool), np.zeros(len(o), bool)]
    pid = np.concatenate(members_pid)
    shell = np.concatenate(members_shell)
    woman = np.concatenate(members_woman)
    if not len(pid):
        return replace(world, employers=employers)
    join_m = hire_m[shell] + rng.integers(0, 2, len(pid))
    length = rng.integers(3, 6, len(pid))
    avg = 7_500.0 * WAGE_INDEX[region[shell]]
    multiplier = rng.uniform(2.0, 2.0 + 1.5 * knobs.intensity, len(pid)) * (
        1 - 0.3 * knobs.camouflage
    )
    multiplier = np.maximum(multiplier, 2.0)
    c_pid = np.repeat(pid, length)
    c_month = np.repeat(join_m, length) + (
        np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    )
    c_month = np.minimum(c_month, tl.months - 1)
    shell_c = pd.DataFrame(
        {
            "pid": c_pid,
            "eid": np.repeat(new_eid[shell], length),
            "month": c_month,
            "base": np.round(np.repeat(avg * multiplier, length), 0),
        }
    ).drop_duplicates(["pid", "eid", "month"])
    # members stop all other contributions from joining on; most were never enrolled before
    contributions = world.contributions
    join_of = pd.Series(join_m, index=pid)
    cj = join_of.reindex(contributions["pid"].to_numpy()).to_numpy()
    drop = ~np.isnan(cj) & (contributions["month"].to_numpy() >= np.nan_to_num(cj, nan=1e9))
    contributions = pd.concat([contributions.loc[~drop], shell_c], ignore_index=True)
    persons = p.copy()
    fresh = rng.random(len(pid)) < 0.7
    join_day = tl.month_start(join_m)
    persons.loc[pid[fresh], "enrolled"] = join_day[fresh]
    had_before = contributions["pid"].isin(pid[fresh]) & (
        contributions["month"].to_numpy()
        < join_of.reindex(contributions["pid"].to_numpy()).fillna(-1e9).to_numpy()
    )
    contributions = contributions.loc[~had_before.to_numpy()].reset_index(drop=True)
    claims = world.claims
    enrolled = persons["enrolled"].to_numpy()[claims["pid"].to_numpy()]
    early = claims["pid"].isin(pid[fresh]).to_numpy() & (claims["start"].to_numpy() < enrolled)
    claims = claims.loc[~early].reset_index(drop=True)
    claims = claims.loc[
        ~(claims["pid"].isin(pid[woman]) & (claims["benefit"] == BENEFIT["maternity"]))
    ]
    world = replace(
        world,
        persons=persons,
        employers=employers,
        contributions=contributions,
        claims=claims.reset_index(drop=True),
    )
    # births 2-3 months after joining for 70% of the women (the others are straw members);
    # the allowance uses the inflated base
    mother = woman & (rng.random(len(pid)) < 0.7)
    wp = pid[mother]
    birth_m = join_m[mother] + rng.integers(2, 4, len(wp))
    births = delivery_and_allowance(
        rng, world, chooser, wp, birth_m, new_eid[shell[mother]], base_multiplier=multiplier[mother]
    )
    allowance = births["benefit"].to_numpy() == BENEFIT["maternity"]
    unit = np.concatenate([shell[mother], shell[mother]])
    fraud = mark(births.loc[allowance], name, "fraud", unit[allowance], 1.0)
    stays = births.loc[~allowance]
    new = pd.concat([stays, fraud], ignore_index=True)
    return replace(world, claims=add_claims(world, new))


def work_injury_fabricated(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Injuries staged right after hire, or suffered before enrolment (DOMAIN P6, 先伤后保).

    Unit: a hire. The injury falls 0-3 days into the first contribution month with the new
    employer (with camouflage, 5-20 days), or for a quarter of units a few days *before* it;
    costs are higher than honest injuries (intensity).
    """
    name = "work_injury_fabricated"
    tl = world.timeline
    months = world.months
    # first hires by an employer only (a returning worker is not new to the firm)
    worked = months[months["eid"] >= 0]
    first = worked.groupby(["pid", "eid"])["month"].transform("min")
    hires = worked[worked["hire"] & (worked["month"] >= 0) & (worked["month"] == first)]
    # ... whose contributions are still on record (other injectors may have moved them)
    paid = world.contributions[["pid", "eid", "month"]]
    hires = hires.merge(paid, on=["pid", "eid", "month"], how="inner")
    world = with_candidates(world, name, len(hires))
    k = n_units(len(hires), knobs)
    start = onset_day(world, knobs)
    pool = np.nonzero(tl.month_start(hires["month"].to_numpy()) >= start)[0]
    rows = pick(rng, pool, k)
    if not len(rows):
        return world
    sel = hires.iloc[rows]
    n = len(sel)
    m_start = tl.month_start(sel["month"].to_numpy())
    discreet = rng.random(n) < knobs.camouflage * 0.5
    before = rng.random(n) < 0.25
    day = np.where(
        before,
        m_start - rng.integers(1, 10, n),
        m_start + np.where(discreet, rng.integers(5, 20, n), rng.integers(0, 4, n)),
    )
    day = np.maximum(day, 0)
    new = work_injury_claims(
        rng,
        world,
        chooser,
        pid=sel["pid"].to_numpy(),
        day=day,
        eid=sel["eid"].to_numpy(),
        severity=1.3 * knobs.intensity,
    )
    new = mark(new, name, "fraud", np.arange(n), 1.0)
    return replace(world, claims=add_claims(world, new))
