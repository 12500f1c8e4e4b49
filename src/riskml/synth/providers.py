"""Designated providers: hospitals (tiers 1-3, public/private, beds), clinics, pharmacies, rehab.

Counts scale with the population of each region (about one hospital per 800 insured, one clinic
per 350, one pharmacy per 300, and at least two hospitals, two clinics, two pharmacies and one
rehabilitation centre per region). Each hospital, clinic and rehab centre has doctors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.synth.reference import REGION_WEIGHTS
from riskml.synth.world import RegionalSampler, Timeline

TYPES = ("hospital", "clinic", "pharmacy", "rehab")


def make_providers(rng: np.random.Generator, n_persons: int, timeline: Timeline) -> pd.DataFrame:
    """Providers with type, tier, ownership, region, designation date, beds and doctors."""
    per_region = n_persons * REGION_WEIGHTS
    counts = {
        "hospital": np.maximum(3, np.round(per_region / 800)).astype(int),
        "clinic": np.maximum(2, np.round(per_region / 350)).astype(int),
        "pharmacy": np.maximum(2, np.round(per_region / 300)).astype(int),
        "rehab": np.maximum(1, np.round(per_region / 6000)).astype(int),
    }
    ptype = np.concatenate([np.repeat(t, counts[t].sum()) for t in TYPES])
    region = np.concatenate([np.repeat(np.arange(len(per_region)), counts[t]) for t in TYPES])
    n = len(ptype)
    hosp = ptype == "hospital"
    # the first hospital of each region is a tier-3 public one, the second a small private one
    rank_in_region = pd.Series(np.arange(n)).groupby([ptype, region]).cumcount().to_numpy()
    tier_draw = rng.choice([1, 2, 3], size=n, p=[0.4, 0.4, 0.2])
    tier = np.where(rank_in_region == 0, 3, np.where(rank_in_region == 1, 1, tier_draw))
    tier = np.where(hosp, tier, 0)
    private_p = np.select(
        [tier == 3, tier == 2, tier == 1, ptype == "clinic", ptype == "pharmacy"],
        [0.05, 0.3, 0.6, 0.6, 0.9],
        0.5,
    )
    private = rng.random(n) < private_p
    private = np.where(hosp & (rank_in_region == 0), False, private)
    private = np.where(hosp & (rank_in_region == 1), True, private)
    beds = np.select(
        [tier == 3, tier == 2, (tier == 1) & private, tier == 1, ptype == "rehab"],
        [
            rng.integers(800, 2500, n),
            rng.integers(200, 700, n),
            rng.integers(20, 80, n),
            rng.integers(40, 150, n),
            rng.integers(60, 200, n),
        ],
        0,
    )
    doctors = np.select(
        [hosp, ptype == "clinic", ptype == "rehab"],
        [np.maximum(4, beds // 12), rng.integers(2, 7, n), rng.integers(3, 10, n)],
        0,
    )
    designated = -np.floor(rng.uniform(1.2, 20, n) * 365.25).astype(np.int64) + int(
        timeline.month_start(-timeline.history_months)
    )
    return pd.DataFrame(
        {
            "prid": np.arange(n, dtype=np.int64),
            "ptype": ptype,
            "tier": tier.astype(np.int64),
            "private": private,
            "region": region.astype(np.int64),
            "designated": designated,
            "beds": beds.astype(np.int64),
            "doctors": doctors.astype(np.int64),
            "doctor_offset": (np.cumsum(doctors) - doctors).astype(np.int64),
        }
    )


def sampler(providers: pd.DataFrame, mask: np.ndarray, weight: np.ndarray) -> RegionalSampler:
    """A regional sampler over the providers selected by ``mask``."""
    sel = providers.loc[mask]
    return RegionalSampler(
        sel["prid"].to_numpy(),
        sel["region"].to_numpy(),
        np.asarray(weight)[mask],
        len(REGION_WEIGHTS),
    )


class ProviderChooser:
    """Where people go for each kind of care, by region."""

    def __init__(self, providers: pd.DataFrame):
        ptype = providers["ptype"].to_numpy()
        beds = providers["beds"].to_numpy().astype(float)
        tier = providers["tier"].to_numpy()
        self.providers = providers
        hosp = ptype == "hospital"
        self.hospital = sampler(providers, hosp, beds**0.8)
        self.tier3 = sampler(providers, hosp & (tier == 3), beds)
        self.outpatient_hospital = sampler(providers, hosp, beds**0.6)
        self.clinic = sampler(providers, ptype == "clinic", np.ones(len(ptype)))
        self.pharmacy = sampler(providers, ptype == "pharmacy", np.ones(len(ptype)))
        self.rehab = sampler(providers, ptype == "rehab", beds)

    def doctor(self, rng: np.random.Generator, prid: np.ndarray) -> np.ndarray:
        """A doctor of each provider (-1 for pharmacies)."""
        n_doc = self.providers["doctors"].to_numpy()[prid]
        off = self.providers["doctor_offset"].to_numpy()[prid]
        pick = off + np.floor(rng.random(len(prid)) * np.maximum(n_doc, 1)).astype(np.int64)
        return np.where(n_doc > 0, pick, -1)
