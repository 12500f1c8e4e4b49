"""Helpers shared by the injectors: how many units, from when, and marking the truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from riskml.synth.config import TypologyKnobs
from riskml.synth.providers import ProviderChooser
from riskml.synth.world import CLASS, TYPOLOGY, World

Injector = Callable[[np.random.Generator, World, TypologyKnobs, ProviderChooser], World]


def n_units(candidates: int, knobs: TypologyKnobs) -> int:
    """Units to make fraudulent: prevalence x candidates, at least one when prevalence > 0."""
    if knobs.prevalence <= 0 or candidates <= 0:
        return 0
    return int(min(candidates, max(1, round(candidates * knobs.prevalence))))


def onset_day(world: World, knobs: TypologyKnobs) -> int:
    """First day on which the typology appears (late onsets are drift)."""
    return int(knobs.onset * world.timeline.n_days)


def pick(
    rng: np.random.Generator, pool: np.ndarray, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``k`` distinct members of ``pool`` (sorted), optionally weighted."""
    pool = np.asarray(pool)
    k = min(k, len(pool))
    if k <= 0:
        return pool[:0]
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        p = w / w.sum()
    return np.sort(rng.choice(pool, size=k, replace=False, p=p))


def mark(
    frame: pd.DataFrame,
    typology: str,
    klass: str,
    unit: np.ndarray | int,
    share: np.ndarray | float,
) -> pd.DataFrame:
    """Stamp the ground truth on claims (all rows of ``frame``)."""
    n = len(frame)
    return frame.assign(
        typ=np.int8(TYPOLOGY[typology]),
        tclass=np.int8(CLASS[klass]),
        unit=np.broadcast_to(np.asarray(unit, dtype=np.int64), (n,)).copy(),
        improper_share=np.clip(np.broadcast_to(np.asarray(share, dtype=float), (n,)), 0, 1),
    )


def honest(world: World) -> np.ndarray:
    """Claims not yet touched by an injector or flagged as a look-alike."""
    cl = world.claims
    return np.asarray(
        (cl["typ"].to_numpy() < 0) & (cl["look"].to_numpy() < 0) & (cl["locked"].to_numpy() == 0)
    )


def with_candidates(world: World, typology: str, n: int) -> World:
    """Record how many candidate units the typology had (for the manifest's prevalence)."""
    return replace(world, candidates={**world.candidates, typology: int(n)})
