"""Cash-benefit injectors: pension after death, duplicate benefits, benefit while employed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.cash import monthly_claims
from riskml.synth.config import TypologyKnobs
from riskml.synth.employment import _pick_employer
from riskml.synth.injectors._common import mark, n_units, onset_day, pick, with_candidates
from riskml.synth.providers import ProviderChooser
from riskml.synth.reference import REGION_WEIGHTS, WAGE_INDEX
from riskml.synth.world import BENEFIT, NO_DAY, RegionalSampler, World, add_claims


def pension_after_death(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Relatives conceal a pensioner's death and keep drawing the pension (DOMAIN P1).

    Unit: a pensioner alive through the window. They die after the onset; the death reaches the
    administration months later (geometric, longer with intensity) or, for a share, never; the
    pension keeps being paid until then. With little camouflage some payments even continue a
    few months after the report (a diverted account), which the data can show at claim time.
    """
    name = "pension_after_death"
    tl = world.timeline
    cl = world.claims
    p = world.persons
    pens = cl[cl["benefit"] == BENEFIT["pension"]]
    alive = p["death"].to_numpy() == NO_DAY
    pool = np.unique(pens["pid"].to_numpy())
    pool = pool[alive[pool]]
    world = with_candidates(world, name, len(pool))
    k = n_units(len(pool), knobs)
    units = pick(rng, pool, k)
    if not len(units):
        return world
    start = onset_day(world, knobs)
    death = rng.integers(start, max(start + 1, tl.n_days - 100), len(units))
    hidden_months = 2 + rng.geometric(1 / (5 * knobs.intensity), len(units))
    never = rng.random(len(units)) < 0.3 * (1 - knobs.camouflage)
    reported = np.where(never, NO_DAY, death + hidden_months * 30 + rng.integers(0, 30, len(units)))
    persons = p.copy()
    persons.loc[units, "death"] = death
    persons.loc[units, "reported"] = reported
    # the dead make no more claims of their own
    pid = cl["pid"].to_numpy()
    d_of = np.full(len(p), NO_DAY, dtype=np.int64)
    d_of[units] = death
    keep = cl["start"].to_numpy() <= d_of[pid]
    claims = cl.loc[keep].reset_index(drop=True)
    last = pens.sort_values(["pid", "start"]).groupby("pid")[["amount", "start"]].last()
    first_month = tl.month_of(death) + 1
    continues = (rng.random(len(units)) < 0.4 * (1 - knobs.camouflage)) & ~never
    report_month = tl.month_of(np.minimum(reported, tl.n_days + 800))
    stop = np.where(continues, report_month + rng.integers(1, 4, len(units)), report_month - 1)
    stop = np.minimum(stop, tl.months - 1)
    n = np.clip(stop - first_month + 1, 0, None)
    u_pid = np.repeat(units, n)
    month = np.repeat(first_month, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    # the January raise of 3% applies to the concealed months too
    paid = last.reindex(u_pid)
    years = np.floor(month / 12) - np.floor(tl.month_of(paid["start"].to_numpy()) / 12)
    amount = np.round(paid["amount"].to_numpy() * 1.03**years, 2)
    new = monthly_claims(rng, world, u_pid, month, amount, "pension")
    new = mark(new, name, "fraud", u_pid, 1.0)
    world = replace(world, persons=persons, claims=claims)
    return replace(world, claims=add_claims(world, new))


def duplicate_benefit(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """The same benefit months paid in two regions (DOMAIN P2, 一人多号 / 重复领取).

    Unit: a pension or unemployment-benefit recipient. For a run of 4-12 months (longer with
    intensity) the same benefit month is also claimed in a second region.
    """
    name = "duplicate_benefit"
    tl = world.timeline
    cl = world.claims
    cash = cl[cl["benefit"].isin([BENEFIT["pension"], BENEFIT["unemployment"]]) & (cl["typ"] < 0)]
    pool = np.unique(cash["pid"].to_numpy())
    world = with_candidates(world, name, len(pool))
    units = pick(rng, pool, n_units(len(pool), knobs))
    if not len(units):
        return world
    start = onset_day(world, knobs)
    sel = cash[cash["pid"].isin(units) & (cash["start"] >= start)].sort_values(["pid", "start"])
    run = np.maximum(2, np.round(rng.integers(4, 13, len(units)) * knobs.intensity)).astype(int)
    first = rng.integers(0, 6, len(units))
    rank = sel.groupby("pid").cumcount().to_numpy()
    u_index = np.searchsorted(units, sel["pid"].to_numpy())
    chosen = (rank >= first[u_index]) & (rank < first[u_index] + run[u_index])
    src = sel.loc[chosen]
    if not len(src):
        return world
    home = src["region"].to_numpy()
    shift = rng.integers(1, len(REGION_WEIGHTS), len(units))
    other = (home + shift[np.searchsorted(units, src["pid"].to_numpy())]) % len(REGION_WEIGHTS)
    ratio = (WAGE_INDEX[other] / WAGE_INDEX[home]) ** 0.7
    new = monthly_claims(
        rng,
        world,
        src["pid"].to_numpy(),
        tl.month_of(src["start"].to_numpy()),
        np.round(src["amount"].to_numpy() * ratio, 2),
        "pension",
    )
    new["benefit"] = src["benefit"].to_numpy()
    new["eid"] = src["eid"].to_numpy()
    new["region"] = other
    new = mark(new, name, "fraud", src["pid"].to_numpy(), 1.0)
    return replace(world, claims=add_claims(world, new))


def unemployment_while_employed(
    rng: np.random.Generator, world: World, knobs: TypologyKnobs, chooser: ProviderChooser
) -> World:
    """Unemployment benefit drawn while working for a new employer (DOMAIN P5).

    Unit: a benefit spell. The recipient starts a job 3-8 months (more with intensity) before
    the spell ends and keeps claiming; the new employer's contributions sit in benefit months.
    """
    name = "unemployment_while_employed"
    tl = world.timeline
    cl = world.claims
    ui = cl[(cl["benefit"] == BENEFIT["unemployment"]) & (cl["typ"] < 0)]
    pool = np.unique(ui["pid"].to_numpy())
    world = with_candidates(world, name, len(pool))
    units = pick(rng, pool, n_units(len(pool), knobs))
    if not len(units):
        return world
    start = onset_day(world, knobs)
    sel = ui[ui["pid"].isin(units) & (ui["start"] >= start)].sort_values(["pid", "start"])
    if not len(sel):
        return world
    # the last months of each recipient's (first) run of benefit claims overlap the new job
    rev = sel.groupby("pid").cumcount(ascending=False).to_numpy()
    u_index = np.searchsorted(units, sel["pid"].to_numpy())
    overlap = np.maximum(1, np.round(rng.integers(3, 9, len(units)) * knobs.intensity)).astype(int)
    chosen = rev < overlap[u_index]
    fraud = sel.loc[chosen]
    # new employer from the first overlapping month on, continuing 3-9 months after
    first_month = fraud.groupby("pid")["start"].min()
    u = first_month.index.to_numpy()
    m0 = tl.month_of(first_month.to_numpy())
    emp = world.employers
    sampler = RegionalSampler(
        emp["eid"].to_numpy(),
        emp["region"].to_numpy(),
        emp["weight"].to_numpy(),
        len(WAGE_INDEX),
    )
    region = world.persons["region"].to_numpy()[u]
    eid = _pick_employer(
        rng, sampler, emp["registered"].to_numpy(), region, int(tl.month_start(m0.min()))
    )
    ok = eid >= 0
    u, m0, eid = u[ok], m0[ok], eid[ok]
    tail = rng.integers(3, 10, len(u))
    last_ui = fraud.groupby("pid")["start"].max().reindex(u).to_numpy()
    span = np.minimum(tl.month_of(last_ui) - m0 + 1 + tail, tl.months - m0)
    c_pid = np.repeat(u, span)
    c_month = np.repeat(m0, span) + (
        np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    )
    wage = world.persons["wage"].to_numpy()[c_pid]
    avg = 7_500.0 * WAGE_INDEX[world.persons["region"].to_numpy()[c_pid]]
    base = np.round(np.clip(wage, 0.6 * avg, 3 * avg), 0)
    new_contrib = pd.DataFrame(
        {"pid": c_pid, "eid": np.repeat(eid, span), "month": c_month, "base": base}
    )
    contributions = pd.concat([world.contributions, new_contrib], ignore_index=True)
    contributions = contributions.drop_duplicates(["pid", "eid", "month"]).reset_index(drop=True)
    fraud = fraud[fraud["pid"].isin(u)]
    claims = world.claims.copy()
    rows = fraud.index.to_numpy()
    marked = mark(claims.loc[rows], name, "fraud", claims.loc[rows, "pid"].to_numpy(), 1.0)
    claims.loc[rows, marked.columns] = marked
    return replace(world, claims=claims, contributions=contributions)
