"""The drift setting: fraud that does not hold still (``SynthConfig(drift=True)``).

On top of the preset's typologies (which run from their own onsets, so a model trained early has
seen them), a second cohort of collusion rings and phantom-stay hospitals forms late, from
:data:`DRIFT_ONSET` of the timeline on, at providers the scheme designates shortly before: these
providers have no claims before their designation day, so everything about them, their doctors
and their recruited patients' co-visits appears after a model trained on what was known at month
18 of 24 was fitted. Honest providers are designated late too (:data:`LATE_HONEST_SHARE` of the
clinics and tier-1 hospitals), so being new is not itself the signal.

A late-designated provider's earlier claims did happen, at another provider: they move to a
provider of the same type in the same region (its sibling), so patients keep their care history.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.injectors import INJECTORS
from riskml.synth.providers import ProviderChooser
from riskml.synth.world import TYPOLOGY, World

#: Where the late cohort begins, as a share of the timeline (month 18.7 of 24): after a model
#: trained on what was known at month 18 was fitted.
DRIFT_ONSET = 0.78
#: Typologies whose unit is a provider, given a second, late cohort at new providers.
LATE_COHORTS = ("collusion_ring", "phantom_hospitalization")
#: Providers each late cohort corrupts at least (drawn again while fewer), and the draws allowed.
LATE_UNITS = 1
MAX_DRAWS = 8
#: Share of the other clinics and tier-1 hospitals designated late (honest newcomers).
LATE_HONEST_SHARE = 0.08
#: A late provider is designated this many days (at most) before its cohort's onset.
DESIGNATION_LEAD_DAYS = 20


def late_cohorts(rng: np.random.Generator, world: World, chooser: ProviderChooser) -> World:
    """``world`` with the late cohorts injected and their providers designated late."""
    onset_day = int(DRIFT_ONSET * world.timeline.n_days)
    late: set[int] = set()
    for name in LATE_COHORTS:
        knobs = world.config.typologies[name]
        if knobs.prevalence <= 0:
            continue
        code = TYPOLOGY[name]
        early = set(world.claims.loc[world.claims["typ"].to_numpy() == code, "prid"].tolist())
        cohort: set[int] = set()
        for _ in range(MAX_DRAWS):  # until the cohort has its units at providers not yet corrupt
            claims = world.claims
            of_typology = claims["typ"].to_numpy() == code
            offset = int(claims.loc[of_typology, "unit"].to_numpy().max(initial=-1)) + 1
            injected = INJECTORS[name](rng, world, replace(knobs, onset=DRIFT_ONSET), chooser)
            new = injected.claims.iloc[len(claims) :]
            new = new.loc[~new["prid"].isin(early | late)]
            new = new.assign(unit=new["unit"].to_numpy() + offset)
            cohort |= set(new["prid"].tolist())
            late |= cohort
            world = replace(world, claims=pd.concat([claims, new], ignore_index=True))
            if len(cohort) >= LATE_UNITS:
                break
    pr = world.providers
    eligible = (pr["ptype"] == "clinic") | ((pr["ptype"] == "hospital") & (pr["tier"] == 1))
    others = np.setdiff1d(pr.loc[eligible, "prid"].to_numpy(), np.fromiter(late, dtype=np.int64))
    honest = rng.choice(others, size=round(LATE_HONEST_SHARE * len(others)), replace=False)
    newcomers = late | set(honest.tolist())  # siblings are designated from the start
    designated = pr["designated"].to_numpy().copy()
    claims = world.claims.copy()
    prid = claims["prid"].to_numpy().copy()
    start = claims["start"].to_numpy()
    for provider in sorted(newcomers):
        day = onset_day - int(rng.integers(0, DESIGNATION_LEAD_DAYS + 1))
        if provider in honest:
            day = int(rng.integers(onset_day - DESIGNATION_LEAD_DAYS, world.timeline.n_days - 90))
        sibling = _sibling(pr, provider, newcomers)
        if sibling is None:
            continue
        moved = (prid == provider) & (start < day)
        prid[moved] = sibling
        designated[provider] = day
    claims["prid"] = prid
    providers = pr.assign(designated=designated)
    return replace(world, claims=claims, providers=providers)


def _sibling(pr: pd.DataFrame, provider: int, late: set[int]) -> int | None:
    """A provider of the same type and region that is not designated late."""
    row = pr.loc[provider]
    same = pr.loc[
        (pr["ptype"] == row["ptype"])
        & (pr["region"] == row["region"])
        & (pr["prid"] != provider)
        & ~pr["prid"].isin(late)
    ]
    return int(same["prid"].iloc[0]) if len(same) else None
