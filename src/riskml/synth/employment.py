"""Employers, month-by-month working lives and the contributions they produce.

A vectorised Markov chain over months (a loop over the ~36 months, never over persons) moves
every person between employed, flexible (individual) contributor, not contributing,
unemployment benefit and retirement: job changes, gaps, benefit spells of 3-12 months and
retirement at 60 (men) / 55 (women). A fifth of re-employed benefit recipients start their
job in their last benefit month, a legitimate overlap that rules mistake for fraud.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.contract import INDUSTRIES
from riskml.synth.reference import REGION_WEIGHTS, WAGE_INDEX
from riskml.synth.world import RegionalSampler, Timeline, World

NONE, EMPLOYED, FLEX, UI, RETIRED = 0, 1, 2, 3, 4
_INDUSTRY_P = np.array(
    [2, 1, 22, 2, 1, 8, 14, 5, 6, 4, 4, 3, 3, 4, 2, 3, 6, 5, 2, 3], dtype=float
)  # A..T
_INDUSTRY_P /= _INDUSTRY_P.sum()


def make_employers(rng: np.random.Generator, n_persons: int, timeline: Timeline) -> pd.DataFrame:
    """Employers with a heavy-tailed size, an industry and a registration date."""
    n_regions = len(REGION_WEIGHTS)
    n = max(3 * n_regions, n_persons // 12)
    region = np.concatenate(
        [np.arange(n_regions), rng.choice(n_regions, size=n - n_regions, p=REGION_WEIGHTS)]
    )
    weight = rng.pareto(1.2, n) + 0.2
    rank = np.argsort(np.argsort(-weight)) / n
    size_band = np.select(
        [rank < 0.04, rank < 0.18, rank < 0.5], ["large", "medium", "small"], "micro"
    )
    industry = np.asarray(INDUSTRIES)[rng.choice(len(INDUSTRIES), size=n, p=_INDUSTRY_P)]
    history_start = int(timeline.month_start(-timeline.history_months))
    # most firms are old; 6% are founded during the window (they hire only afterwards)
    registered = history_start - np.floor(rng.exponential(9.0, n) * 365.25).astype(np.int64)
    young = rng.random(n) < 0.06
    registered = np.where(young, rng.integers(history_start, timeline.n_days - 60, n), registered)
    registered = np.maximum(registered, -30 * 365)
    return pd.DataFrame(
        {
            "eid": np.arange(n, dtype=np.int64),
            "region": region.astype(np.int64),
            "industry": industry,
            "size_band": size_band,
            "registered": registered.astype(np.int64),
            "weight": weight,
            "shell": np.zeros(n, dtype=bool),
        }
    )


def _pick_employer(
    rng: np.random.Generator,
    sampler: RegionalSampler,
    registered: np.ndarray,
    regions: np.ndarray,
    day: int,
) -> np.ndarray:
    """An employer in each person's region that already exists on ``day`` (-1 if none found)."""
    out = np.full(len(regions), -1, dtype=np.int64)
    todo = np.arange(len(regions))
    for _ in range(4):
        if not len(todo):
            break
        draw = sampler.sample(rng, regions[todo])
        ok = registered[draw] <= day
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return out


def simulate_working_lives(rng: np.random.Generator, world: World) -> World:
    """Monthly states from ``-history_months`` to the window end, and the contributions table."""
    tl = world.timeline
    p = world.persons
    emp = world.employers
    n = len(p)
    sampler = RegionalSampler(
        emp["eid"].to_numpy(), emp["region"].to_numpy(), emp["weight"].to_numpy(), len(WAGE_INDEX)
    )
    registered = emp["registered"].to_numpy()
    region = p["region"].to_numpy()
    birth = p["birth"].to_numpy()
    death = p["death"].to_numpy()
    enrolled = p["enrolled"].to_numpy()
    urban = p["hukou"].to_numpy() == "urban"
    retire_days = np.floor(p["retire_age"].to_numpy() * 365.25).astype(np.int64) + birth
    first = -tl.history_months
    day0 = int(tl.month_start(first))
    age0 = (day0 - birth) / 365.25
    u = rng.random(n)
    state = np.where(
        urban,
        np.select([u < 0.72, u < 0.85], [EMPLOYED, FLEX], NONE),
        np.select([u < 0.45, u < 0.55], [EMPLOYED, FLEX], NONE),
    ).astype(np.int8)
    state = np.where((age0 < 18) | (enrolled > day0), NONE, state)
    state = np.where(retire_days <= day0, RETIRED, state).astype(np.int8)
    employer = np.full(n, -1, dtype=np.int64)
    hired = state == EMPLOYED
    employer[hired] = _pick_employer(rng, sampler, registered, region[hired], day0)
    state = np.where((state == EMPLOYED) & (employer < 0), FLEX, state).astype(np.int8)
    last_employer = employer.copy()
    tenure = np.where(state == EMPLOYED, rng.integers(0, 120, n), 0)
    ui_left = np.zeros(n, dtype=np.int64)
    ever_contributed = (state == EMPLOYED) | (state == FLEX) | (urban & (rng.random(n) < 0.6))

    rows_state, rows_emp, rows_hire, rows_overlap, rows_lastemp = [], [], [], [], []
    for m in range(first, tl.months):
        day = int(tl.month_start(m))
        alive = death > day
        hire = np.zeros(n, dtype=bool)
        overlap = np.zeros(n, dtype=bool)
        r = rng.random(n)
        r2 = rng.random(n)
        if m > first:
            # retirement
            retiring = alive & (retire_days <= day) & (state != RETIRED)
            # employed -> separation
            sep = alive & (state == EMPLOYED) & (r < 1 / 36) & ~retiring
            to_job = sep & (r2 < 0.4)
            to_ui = sep & (r2 >= 0.65) & (tenure >= 12)
            to_none = sep & ~to_job & ~to_ui
            # benefit spell runs out
            ui_end = alive & (state == UI) & (ui_left <= 1) & ~retiring
            ui_rehire = ui_end & (r2 < 0.65)
            ui_overlap = ui_rehire & (rng.random(n) < 0.2)
            # not contributing / flexible -> job
            can_work = alive & (enrolled <= day) & ((day - birth) >= 18 * 365) & ~retiring
            none_job = can_work & (state == NONE) & (r < 0.10)
            none_flex = can_work & (state == NONE) & (r >= 0.10) & (r < 0.11)
            flex_none = alive & (state == FLEX) & (r < 1 / 60) & ~retiring
            flex_job = alive & (state == FLEX) & (r >= 1 / 60) & (r < 2 / 60) & ~retiring
            new_job = to_job | none_job | flex_job | (ui_rehire & ~ui_overlap)
            hire = new_job | ui_overlap
            picked = np.full(n, -1, dtype=np.int64)
            if hire.any():
                picked[hire] = _pick_employer(rng, sampler, registered, region[hire], day)
            got = hire & (picked >= 0)
            hire = got
            ui_overlap &= got
            new_job &= got
            # apply
            state = state.copy()
            state[to_none | flex_none | (ui_end & ~got)] = NONE
            state[to_ui] = UI
            ui_left = np.where(to_ui, rng.integers(3, 13, n), np.maximum(ui_left - 1, 0))
            state[none_flex] = FLEX
            state[new_job] = EMPLOYED
            employer = np.where(new_job, picked, employer)
            # an overlap month: still on benefit this month, contributing for the new employer
            overlap = ui_overlap
            employer = np.where(overlap, picked, employer)
            tenure = np.where(new_job | overlap, 0, tenure + (state == EMPLOYED))
            state[retiring] = RETIRED
            employer = np.where((state == EMPLOYED) | overlap, employer, -1)
            ever_contributed |= (state == EMPLOYED) | (state == FLEX)
        pending_overlap = overlap
        rows_state.append(np.where(alive, state, NONE).astype(np.int8))
        rows_emp.append(np.where(alive, employer, -1))
        rows_hire.append(hire & alive)
        rows_overlap.append(pending_overlap & alive)
        last_employer = np.where(employer >= 0, employer, last_employer)
        rows_lastemp.append(last_employer.copy())
        if pending_overlap.any():
            # the overlapping person is employed from next month on
            state = np.where(pending_overlap, EMPLOYED, state).astype(np.int8)

    months = np.arange(first, tl.months)
    st = np.stack(rows_state)
    em = np.stack(rows_emp)
    hi = np.stack(rows_hire)
    ov = np.stack(rows_overlap)
    le = np.stack(rows_lastemp)
    mi, pi = np.nonzero(np.ones_like(st, dtype=bool))
    long = pd.DataFrame(
        {
            "pid": pi.astype(np.int64),
            "month": months[mi].astype(np.int64),
            "state": st.ravel(),
            "eid": em.ravel(),
            "hire": hi.ravel(),
            "overlap": ov.ravel(),
            "last_eid": le.ravel(),
        }
    )
    long = long[long["state"] != NONE].reset_index(drop=True)
    persons = p.assign(pension_kind=np.where(ever_contributed, "employee", "resident"))
    contributions = _contributions(rng, long, persons, tl)
    return replace(world, persons=persons, months=long, contributions=contributions)


def _contributions(
    rng: np.random.Generator, long: pd.DataFrame, persons: pd.DataFrame, tl: Timeline
) -> pd.DataFrame:
    """One row per contributing person-month: employer (null for flexible) and base."""
    pays = long["state"].isin([EMPLOYED, FLEX]).to_numpy() | long["overlap"].to_numpy()
    rows = long.loc[pays, ["pid", "month", "eid", "state"]].reset_index(drop=True)
    pid = rows["pid"].to_numpy()
    region = persons["region"].to_numpy()[pid]
    avg = 7_500.0 * WAGE_INDEX[region]
    year = np.floor((rows["month"].to_numpy() + 6) / 12)  # bases are reset every July
    wage = persons["wage"].to_numpy()[pid] * 1.04**year
    flex = rows["state"].to_numpy() == FLEX
    base = np.clip(np.where(flex, 0.6 * avg * (1 + 0.4 * (wage > avg)), wage), 0.6 * avg, 3 * avg)
    return pd.DataFrame(
        {
            "pid": pid,
            "eid": np.where(flex, -1, rows["eid"].to_numpy()),
            "month": rows["month"].to_numpy(),
            "base": np.round(base, 0),
        }
    )
